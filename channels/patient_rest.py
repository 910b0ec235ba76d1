"""The REST channel (`/webhooks/rest/webhook`), hardened for patients' messages.

Compared with Rasa's RestInput: malformed requests get a 400 with a reason instead of a stack
trace; the sender id is a web session id, matched whole: 24-128 letters, digits, "-" or "_" (96
random bits or more, as the widget and scripts/chat.py make: no "default", no phone numbers, no
":" that only the messaging channels' conversation ids have, so a web client can neither guess
another's conversation nor address an SMS patient's); the message is
cleaned and bounded before NLU (channels/message_guard.py). Replies are the same JSON list of
`{recipient_id, text, buttons?}`: the actions' structured replies rendered as plain text
(channels/text_output.py).

A text starting with `/` skips NLU only if it is exactly the payload of a button the assistant
offered in this conversation, or the widget's opening "/greet" (channels/button_payloads.py).
Rasa's HTTP API, when it is on, takes short-lived JWTs only (channels/api_auth.py, installed
with this channel).
"""

from __future__ import annotations

import re
from typing import Any, Awaitable, Callable, Dict

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from channels import action_result_validation, api_auth, log_privacy
from channels.answering import replies_to
from channels.button_payloads import checked_text
from channels.message_guard import guard
from channels.text_output import TextOutput

action_result_validation.install()  # the Rasa server imports this module at start-up
log_privacy.install()

SENDER_ID = re.compile(r"[A-Za-z0-9_-]{24,128}")
OPENING_PAYLOADS = ("/greet",)  # what the widget sends when it opens a conversation


class InvalidRequest(ValueError):
    """The request cannot be a patient's message; the text says why."""


def parse_request(request: Request) -> Dict[str, Any]:
    try:
        payload = request.json
    except SanicException as error:
        raise InvalidRequest("The body must be JSON.") from error
    if not isinstance(payload, dict):
        raise InvalidRequest('The body must be a JSON object: {"sender": "...", "message": "..."}.')
    sender, message, metadata = payload.get("sender"), payload.get("message"), payload.get("metadata")
    if not isinstance(sender, str) or not SENDER_ID.fullmatch(sender):
        raise InvalidRequest(
            "'sender' must be a session id of 24-128 letters, digits, - or _ (e.g. 32 random hex digits)."
        )
    if not isinstance(message, str):
        raise InvalidRequest("'message' must be a string.")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidRequest("'metadata' must be a JSON object.")
    return {"sender": sender, "message": message, "metadata": metadata}


class PatientRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def output_channel(self) -> CollectingOutputChannel:
        """Collects the replies to one request, rendered for this channel."""
        return TextOutput()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"{self.name()}_webhook", __name__)
        webhook.listener("before_server_start")(api_auth.install)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                fields = parse_request(request)
            except InvalidRequest as error:
                return response.json({"error": str(error)}, status=400)
            sender = fields["sender"]
            checked = guard(fields["message"])
            if checked.reply is not None:
                return response.json([{"recipient_id": sender, "text": checked.reply}])
            # `metadata` is checked but not kept: Rasa would store it in the tracker forever.
            tracker_store = getattr(request.app.ctx.agent, "tracker_store", None)
            text = await checked_text(tracker_store, sender, checked.text, opening=OPENING_PAYLOADS)
            message = UserMessage(text, self.output_channel(), sender, input_channel=self.name())
            return response.json(await replies_to(message, on_new_message))

        return webhook
