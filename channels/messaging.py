"""What every messaging platform's channel does the same way (SMS, WhatsApp, Telegram, Messenger,
Slack); each platform's module adds how it signs, shapes and sends messages.

A webhook request goes through, in order:
1. `verify`: the platform's signature over the raw request; 403 and nothing else if it fails.
2. `parse`: the platform's payload into `Inbound` messages (none for receipts, echoes, edits).
3. Each message id is taken once (channels/delivery_store.py): a platform's retry is acknowledged
   and dropped.
4. The request is acknowledged at once; the reply is worked out in the background, so a slow
   answer never makes a platform retry.
5. A text starting with `/` skips NLU only if it is the payload of a button the assistant offered
   in this conversation, or the "/greet" of the platform's "Get Started" or `/start`
   (channels/button_payloads.py).
6. Rasa handles the message with a collecting output channel, so the conversation (the patient's
   message and the replies) is saved before anything is sent. Rasa 3.6 skips saving when a send
   raises; here a failed send cannot lose the message.
7. The replies are ordered (emergencies and safety notes first, each on its own), rendered for
   the platform, and sent with a bounded number of retries; a failure is logged without the text.

Conversation ids are `<channel>:<platform user id>`: a REST or widget client (whose sender ids
may not contain ":") can never address another channel's conversation.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Dict, List, Optional, Set, Tuple

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.reply import Reply, new_reply
from channels.answering import Handler, replies_to
from channels.button_payloads import checked_text, offered_buttons
from channels.delivery_store import delivery_store
from channels.message_guard import channel_text, guard

logger = logging.getLogger(__name__)

GREET_PAYLOAD = "/greet"  # what "Get Started" and /start send: the domain's greeting
SEND_ATTEMPTS = 3
RETRY_DELAYS_S = (0.5, 2.0)  # before the 2nd and the 3rd attempt
EMERGENCY = "emergency"


class InvalidPayload(ValueError):
    """The request is signed but is not a payload this channel understands."""


@dataclass(frozen=True)
class Inbound:
    """One message a patient sent, as the platform delivered it."""

    message_id: str  # the platform's id of this message: a retried delivery has the same one
    user: str  # the platform's id of the patient (phone number, chat id, page-scoped id...)
    address: Dict[str, Any] = field(default_factory=dict)  # where the replies go, for `send`
    text: Optional[str] = None  # None: nothing to read (a picture, a sticker, a voice note)


def replies_of(collected: List[Dict[str, Any]]) -> List[Reply]:
    """The replies Rasa collected, as structured replies (actions/reply.py): a domain response
    `{text, buttons?}` becomes a reply of kind "text"."""
    replies = []
    for message in collected:
        custom = message.get("custom")
        if isinstance(custom, dict) and "kind" in custom:
            replies.append(custom)
        elif message.get("text"):
            replies.append(new_reply("text", message["text"], buttons=message.get("buttons") or ()))
    return replies


def in_sending_order(replies: List[Reply]) -> List[Reply]:
    """Emergencies first, then each safety note as an emergency of its own, then the rest
    without their notes: a red flag is never buried under an answer."""
    emergencies = [r for r in replies if r["kind"] == EMERGENCY]
    notes = [
        new_reply(EMERGENCY, r["safety_note"]["text"], call=[c["number"] for c in r["safety_note"]["call"]])
        for r in replies
        if r["kind"] != EMERGENCY and r.get("safety_note")
    ]
    rest = [{**r, "safety_note": None} for r in replies if r["kind"] != EMERGENCY]
    return emergencies + notes + rest


OPTION = re.compile(r"(?:option|number|no\.?|#)?\s*(\d{1,2})\s*[.)]?", re.IGNORECASE)
# Platform ids are printable ASCII: anything else (a lone surrogate...) cannot be a conversation id.
PLATFORM_ID = re.compile(r"[\x21-\x7e]{1,255}")


def option_number(text: str) -> Optional[int]:
    """The option a reply like "2", "#2", "2.", "2)", "option 2" or "2" with a keycap picks (any
    script's decimal digits), else None."""
    match = OPTION.fullmatch(text.strip().replace("\ufe0f", "").replace("\u20e3", ""))
    return int(match.group(1)) if match else None


POLITE_WORDS = frozenset({"PLEASE", "NOW", "THANKS"})


def keyword_of(text: str) -> Optional[str]:
    """The keyword a message is, in capitals ("stop?", "Stop please!", "STOP STOP", "stop 🛑" ->
    "STOP"), or None when it says anything more: carriers match a lone word; patients add
    punctuation, emoji and "please"."""
    words = {word.upper() for word in re.findall(r"[^\W\d_]+", text)} - POLITE_WORDS
    return words.pop() if len(words) == 1 else None


def checked_inbound(inbound: Inbound) -> Inbound:
    """The inbound message if its ids are platform ids and its text a string or None; else
    InvalidPayload (a malformed but signed payload must not reach the tracker store)."""
    if not all(isinstance(v, str) and PLATFORM_ID.fullmatch(v) for v in (inbound.message_id, inbound.user)):
        raise InvalidPayload("Message and user ids must be printable ASCII.")
    if inbound.text is not None and not isinstance(inbound.text, str):
        raise InvalidPayload("A message's text must be a string.")
    return inbound


class MessagingInput(InputChannel):
    """The common flow of a messaging platform's webhook (module docstring). Subclasses give
    `name`, `from_credentials`, `verify`, `parse`, `render` and `send`, and may change
    `acknowledgement`, `keyword_reply` and `may_reply`."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled  # False when the platform's secrets are not in the environment
        self._tasks: Set[asyncio.Task] = set()

    # What each platform gives.
    def verify(self, request: Request) -> bool:
        raise NotImplementedError

    def parse(self, request: Request) -> List[Inbound]:
        raise NotImplementedError

    def render(self, reply: Reply) -> List[Any]:
        """The platform messages that show this reply, in order."""
        raise NotImplementedError

    async def send(self, inbound: Inbound, message: Any) -> None:
        """Sends one rendered message to where `inbound` came from; raises on failure."""
        raise NotImplementedError

    # What a platform may change.
    def acknowledgement(self) -> HTTPResponse:
        return response.json({"status": "received"})

    async def keyword_reply(self, inbound: Inbound, text: str) -> Optional[str]:
        """A reply the channel gives itself, without Rasa (carrier keywords, /help): its text, ""
        to send nothing, or None when the message is not a keyword."""
        return None

    async def may_reply(self, inbound: Inbound) -> bool:
        """False when this patient must get no messages (opted out); the message is still kept."""
        return True

    def conversation_id(self, inbound: Inbound) -> str:
        return f"{self.name()}:{inbound.user}"

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        """The webhook routes; none (404) while the channel is off."""
        webhook = Blueprint(f"{self.name()}_webhook", __name__)
        if not self.enabled:
            return webhook

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self.receive(request, on_new_message)

        return webhook

    async def receive(self, request: Request, on_new_message: Handler) -> HTTPResponse:
        if not self._verified(request):
            logger.warning("%s: refused a request with a missing, forged or stale signature", self.name())
            return response.json({"error": "invalid signature"}, status=403)
        try:
            inbounds = [checked_inbound(inbound) for inbound in self.parse(request)]
        except InvalidPayload as error:
            return response.json({"error": str(error)}, status=400)
        except Exception:  # a signed body of an unexpected shape: the platform's bug, not a 500
            logger.warning("%s: refused a signed payload of an unexpected shape", self.name())
            return response.json({"error": "unexpected payload"}, status=400)
        store = delivery_store()
        tracker_store = request.app.ctx.agent.tracker_store
        for inbound in inbounds:
            if await store.first_delivery(self.name(), inbound.message_id):
                self._in_background(self.handle(inbound, on_new_message, tracker_store))
        return self.acknowledgement()

    def _verified(self, request: Request) -> bool:
        """`verify`, with any error in it (odd headers: non-ASCII, huge numbers) a failure."""
        try:
            return self.verify(request)
        except Exception:
            return False

    def _in_background(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)  # keeps the task alive until it is done
        task.add_done_callback(self._tasks.discard)

    async def handle(self, inbound: Inbound, on_new_message: Handler, tracker_store: Any) -> None:
        try:
            await self._handle(inbound, on_new_message, tracker_store)
        except Exception as error:  # the patient's text may be in the error: log only its type
            logger.error("%s: could not handle message %s (%s)", self.name(), inbound.message_id,
                         type(error).__name__)  # fmt: skip
            logger.debug("%s: traceback", self.name(), exc_info=True)

    async def _handle(self, inbound: Inbound, on_new_message: Handler, tracker_store: Any) -> None:
        checked = guard(inbound.text) if inbound.text is not None else None
        if checked is not None and checked.reply is None:
            keyword = await self.keyword_reply(inbound, checked.text)
            if keyword is not None:  # HELP and START answer even a patient who said STOP
                if keyword:
                    await self.deliver(inbound, [new_reply("text", keyword)])
                return
        may_reply = await self.may_reply(inbound)
        if checked is None or checked.reply is not None:
            if may_reply:
                reply = channel_text("not_text") if checked is None else checked.reply
                await self.deliver(inbound, [new_reply("text", reply)])
            return
        conversation = self.conversation_id(inbound)
        text, replies = await self._chosen_option(conversation, checked.text, tracker_store)
        if text == checked.text:  # typed, not an option's payload: a payload must have been offered
            text = await checked_text(tracker_store, conversation, text, always=(GREET_PAYLOAD,))
        if not replies:
            message = UserMessage(text, CollectingOutputChannel(), conversation, input_channel=self.name())
            replies = replies_of(await replies_to(message, on_new_message))
        if may_reply:  # a patient who said STOP: the message is kept, nothing is sent
            await self.deliver(inbound, replies)

    async def _chosen_option(
        self, conversation: str, text: str, tracker_store: Any
    ) -> Tuple[str, List[Reply]]:
        """`(payload, [])` for "2" (or "#2", "2.", "option 2") after a turn that offered options:
        the second option's payload; `(text, [reply])` for a number beyond the options: which
        numbers there are; else `(text, [])`."""
        choice = option_number(text)
        if choice is None:
            return text, []
        try:
            tracker = await tracker_store.retrieve(conversation)
        except Exception as error:  # the tracker store is down: Rasa fails too, and the patient
            # gets the no_reply text (clinic's number, emergency number) from replies_to
            logger.error("%s: could not read conversation %s (%s)", self.name(), conversation,
                         type(error).__name__)  # fmt: skip
            tracker = None
        buttons = offered_buttons(list(tracker.events)) if tracker else []
        if 1 <= choice <= len(buttons):
            return buttons[choice - 1]["payload"], []
        if buttons:
            return text, [
                new_reply("text", channel_text("option_range", count=len(buttons)), buttons=buttons)
            ]
        return text, []

    async def deliver(self, inbound: Inbound, replies: List[Reply]) -> None:
        """Renders and sends the replies in order; stops at the first message that cannot be sent
        after SEND_ATTEMPTS attempts (the platform is down: the rest would fail too)."""
        messages = [message for reply in in_sending_order(replies) for message in self.render(reply)]
        for index, message in enumerate(messages):
            if not await self._send_with_retries(inbound, message):
                logger.warning("%s: %d of %d replies to message %s not sent", self.name(),
                               len(messages) - index, len(messages), inbound.message_id)  # fmt: skip
                return

    async def _send_with_retries(self, inbound: Inbound, message: Any) -> bool:
        for attempt in range(SEND_ATTEMPTS):
            try:
                await self.send(inbound, message)
                return True
            except Exception as error:  # what a failed send raises differs by SDK
                logger.warning("%s: send attempt %d of %d failed (%s)", self.name(), attempt + 1,
                               SEND_ATTEMPTS, describe_failure(error))  # fmt: skip
                if attempt < len(RETRY_DELAYS_S):
                    await asyncio.sleep(RETRY_DELAYS_S[attempt])
        return False


def describe_failure(error: Exception) -> str:
    """The error's type and HTTP status, if any: never its message, which may hold the text sent
    or a token in a URL."""
    status = getattr(error, "status", None) or getattr(error, "status_code", None)
    return f"{type(error).__name__}, status {status}" if status else type(error).__name__
