"""Facebook Messenger through a Facebook Page (`/webhooks/messenger/webhook`).

Routes (on only with the secrets below in the environment; otherwise 404):
    GET  /webhook?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C
         the check Meta makes when the webhook is subscribed: C as text if T is the verify token,
         else 403.
    POST /webhook  Meta's events, `{"object": "page", "entry": [{"messaging": [event, ...]}, ...]}`;
         several entries and several events each may come in one request. 403 unless
         `X-Hub-Signature-256: sha256=<hex>` is the HMAC-SHA256 of the raw body with the app secret;
         400 if the signed body is not JSON or not a "page" object.

Compared with Rasa 3.6's MessengerInput: only the SHA-256 signature is accepted, compared in
constant time (Rasa accepts the SHA-1 one and compares it with ==); the subscription token is
compared in constant time; replies go out through aiohttp, where Rasa's `fbmessenger` uses the
synchronous `requests` and blocks the server's event loop while Meta answers; the shared flow of
channels/messaging.py adds deduplication, background handling, saving before sending and retries.

An event becomes a message to Rasa as follows: a quick reply sends its payload; a typed text its
text; an attachment without text (picture, sticker, voice note) gets channel_text("not_text");
the "Get Started" button (postback GET_STARTED) sends the greeting intent, other postbacks their
payload; echoes of the page's own messages, delivery and read receipts and reactions are ignored.
The patient is their page-scoped id (PSID): conversation `messenger:<psid>`.

Replies are plain text (Messenger shows no markup and links URLs itself), at most MAX_TEXT_CHARS a
message. Quick replies hold at most MAX_QUICK_REPLIES buttons of MAX_TITLE_CHARS characters, too
short for our questions: the questions are listed in full as numbered lines (a typed "2" picks the
second, channels/messaging.py) and the buttons carry shortened titles.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any, Dict, List, Optional

import aiohttp
from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.reply import Reply
from channels.message_guard import channel_text
from channels.messaging import GREET_PAYLOAD, Handler, Inbound, InvalidPayload, MessagingInput, keyword_of

GRAPH_API_VERSION = "v22.0"
DEFAULT_API_BASE = "https://graph.facebook.com"
SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
GET_STARTED_PAYLOAD = "GET_STARTED"  # what the page's "Get Started" button is set up to send
MAX_TEXT_CHARS = 2000  # Send API limit for one text message
MAX_QUICK_REPLIES = 13
MAX_TITLE_CHARS = 20
ELLIPSIS = "…"
SEND_TIMEOUT_S = 20

Message = Dict[str, Any]  # a Send API `message` object: {"text", "quick_replies"?}


class SendApiError(RuntimeError):
    """The Send API answered with an error status. Carries the status and Meta's error code only:
    aiohttp's own error would hold the request URL, and with it the page access token."""

    def __init__(self, status: int, code: Optional[int]) -> None:
        super().__init__(f"Send API answered {status} (error code {code})")
        self.status = status


def valid_signature(app_secret: str, body: bytes, header: str) -> bool:
    """True if `header` is `sha256=<hex>` of HMAC-SHA256(app secret, raw body). Meta publishes no
    Python SDK for this check, so it is done here with the standard library."""
    if not header.startswith(SIGNATURE_PREFIX):
        return False
    expected = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    given = header[len(SIGNATURE_PREFIX) :].encode("utf-8", errors="replace")
    return hmac.compare_digest(expected.encode("ascii"), given)


def _dicts(value: Any) -> List[Dict[str, Any]]:
    """The dict items of a JSON list; anything else gives none (Meta may add fields and kinds)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _field(event: Dict[str, Any], name: str) -> Dict[str, Any]:
    value = event.get(name)
    return value if isinstance(value, dict) else {}


def _text_of_message(message: Dict[str, Any]) -> Optional[str]:
    """A quick reply's payload, else the typed text; None for attachments only."""
    payload = _field(message, "quick_reply").get("payload")
    if isinstance(payload, str) and payload:
        return payload
    text = message.get("text")
    return text if isinstance(text, str) else None


def _text_of_postback(postback: Dict[str, Any]) -> Optional[str]:
    payload = postback.get("payload")
    if payload == GET_STARTED_PAYLOAD:
        return GREET_PAYLOAD
    return payload if isinstance(payload, str) else None


def inbound_of(event: Dict[str, Any]) -> Optional[Inbound]:
    """The patient's message in one `messaging` event, or None for events that are not one
    (echoes, deliveries, reads, reactions, opt-ins...)."""
    psid = _field(event, "sender").get("id")
    message, postback = _field(event, "message"), _field(event, "postback")
    if not psid or message.get("is_echo") or not (message or postback):
        return None
    text = _text_of_message(message) if message else _text_of_postback(postback)
    # A postback without a mid (older API versions): its sender, time and content tell it apart.
    content = hashlib.sha256(json.dumps(event, sort_keys=True).encode("utf-8", "replace")).hexdigest()[:16]
    message_id = (message or postback).get("mid") or f"{psid}:{event.get('timestamp')}:{content}"
    return Inbound(str(message_id), str(psid), {"psid": str(psid)}, text)


def short_title(question: str) -> str:
    """The question as a quick-reply title: whole if it fits MAX_TITLE_CHARS, else cut after the
    last whole word that leaves room for "…" (mid-word only for a single overlong word)."""
    if len(question) <= MAX_TITLE_CHARS:
        return question
    room = MAX_TITLE_CHARS - len(ELLIPSIS)
    head = question[: room + 1]  # one more: a space right after `room` characters ends a word
    cut = head[: head.rfind(" ")].rstrip(" ,;:-") if " " in head else ""
    return f"{cut or question[:room]}{ELLIPSIS}"


def _lines(reply: Reply) -> List[str]:
    lines = [reply["text"], *(f"- {sign}" for sign in reply.get("watch_for", []))]
    if reply.get("quotes"):
        lines += ["From the article:", *(f"“{quote['text']}”" for quote in reply["quotes"])]
    sources = [f"[{r['number']}] {r['publisher']} {r['url']}" for r in reply.get("references", [])]
    if reply.get("article"):
        sources.append(f"{reply['article']['publisher']} {reply['article']['url']}")
    if sources:
        lines += ["Sources:", *sources]
    if reply.get("buttons"):
        lines.append(channel_text("options"))
        lines += [f"{i} {button['title']}" for i, button in enumerate(reply["buttons"], start=1)]
    return [line for text in lines for line in text.split("\n")]


def _cut(line: str) -> List[str]:
    """A line longer than MAX_TEXT_CHARS in pieces, each ended at its last space if it has one."""
    pieces = []
    while len(line) > MAX_TEXT_CHARS:
        end = line.rfind(" ", 0, MAX_TEXT_CHARS + 1)
        end = end if end > 0 else MAX_TEXT_CHARS
        pieces.append(line[:end])
        line = line[end:].lstrip(" ")
    return [*pieces, line]


def split_text(lines: List[str]) -> List[str]:
    """The lines joined into texts of at most MAX_TEXT_CHARS, split between lines."""
    texts, current = [], ""
    for line in lines:
        for piece in _cut(line):
            if current and len(current) + 1 + len(piece) > MAX_TEXT_CHARS:
                texts.append(current)
                current = ""
            current = f"{current}\n{piece}" if current else piece
    return [*texts, current] if current else texts


def quick_replies(buttons: List[Dict[str, str]]) -> List[Dict[str, str]]:
    """Quick replies titled with the number of their line in the text and the question's start
    ("2 What are the…"): a cut title alone could match several questions."""
    return [
        {"content_type": "text", "title": short_title(f"{i} {button['title']}"), "payload": button["payload"]}
        for i, button in enumerate(buttons[:MAX_QUICK_REPLIES], start=1)
    ]


def render_messenger(reply: Reply) -> List[Message]:
    """The reply as Send API messages `[{"text"}, ..., {"text", "quick_replies"?}]`: text, signs to
    watch for, quotes, compact sources (publisher and link), numbered options; the quick replies
    on the last message."""
    messages: List[Message] = [{"text": text} for text in split_text(_lines(reply))]
    if reply.get("buttons") and messages:
        messages[-1]["quick_replies"] = quick_replies(reply["buttons"])
    return messages


async def _error_code(answer: aiohttp.ClientResponse) -> Optional[int]:
    """Meta's `error.code` in an error answer, if it has one (190: bad token, 551: user unavailable)."""
    try:
        body = await answer.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else None


class MessengerInput(MessagingInput):
    """Messenger for one Facebook Page. Environment: MESSENGER_APP_SECRET (signs Meta's requests),
    MESSENGER_PAGE_ACCESS_TOKEN (sends the replies), MESSENGER_VERIFY_TOKEN (chosen when the
    webhook is subscribed), MESSENGER_API_BASE (tests only; default the Graph API). Without the
    first three the channel is off: its webhook answers 404."""

    @classmethod
    def name(cls) -> str:
        return "messenger"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        return cls(
            os.environ.get("MESSENGER_APP_SECRET", ""),
            os.environ.get("MESSENGER_PAGE_ACCESS_TOKEN", ""),
            os.environ.get("MESSENGER_VERIFY_TOKEN", ""),
        )

    def __init__(self, app_secret: str, page_access_token: str, verify_token: str) -> None:
        super().__init__(enabled=bool(app_secret and page_access_token and verify_token))
        self.app_secret, self.verify_token = app_secret, verify_token
        self.page_access_token = page_access_token
        api_base = os.environ.get("MESSENGER_API_BASE", DEFAULT_API_BASE).rstrip("/")
        self.send_url = f"{api_base}/{GRAPH_API_VERSION}/me/messages"
        self._session: Optional[aiohttp.ClientSession] = None

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        """The shared routes, the subscription check (GET /webhook), and closing the HTTP session
        when the server stops."""
        webhook = super().blueprint(on_new_message)
        if not self.enabled:
            return webhook

        @webhook.route("/webhook", methods=["GET"])
        async def subscribe(request: Request) -> HTTPResponse:
            return self.subscription(request)

        @webhook.listener("after_server_stop")
        async def close_session(*_: Any) -> None:
            if self._session is not None:
                await self._session.close()

        return webhook

    def subscription(self, request: Request) -> HTTPResponse:
        """`hub.challenge` as text if `hub.mode` is "subscribe" and `hub.verify_token` ours; else 403."""
        token = request.args.get("hub.verify_token", "")
        if request.args.get("hub.mode") == "subscribe" and hmac.compare_digest(
            token.encode("utf-8"), self.verify_token.encode("utf-8")
        ):
            return response.text(request.args.get("hub.challenge", ""))
        return response.json({"error": "verification failed"}, status=403)

    def verify(self, request: Request) -> bool:
        return valid_signature(self.app_secret, request.body, request.headers.get(SIGNATURE_HEADER, ""))

    def parse(self, request: Request) -> List[Inbound]:
        try:
            payload = json.loads(request.body)
        except ValueError as error:  # UnicodeDecodeError is one
            raise InvalidPayload("The body is not JSON.") from error
        if not isinstance(payload, dict) or payload.get("object") != "page":
            raise InvalidPayload('Only "page" events are handled.')
        events = [event for entry in _dicts(payload.get("entry")) for event in _dicts(entry.get("messaging"))]
        return [inbound for inbound in map(inbound_of, events) if inbound is not None]

    def render(self, reply: Reply) -> List[Message]:
        return render_messenger(reply)

    async def send(self, inbound: Inbound, message: Any) -> None:
        """POSTs one message to the Send API; raises SendApiError on an error status."""
        if self._session is None:  # made in the server's event loop, on first use
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT_S))
        recipient = {"id": inbound.address["psid"]}
        body = {"recipient": recipient, "messaging_type": "RESPONSE", "message": message}
        params = {"access_token": self.page_access_token}
        async with self._session.post(self.send_url, params=params, json=body) as answer:
            if answer.status >= 300:
                raise SendApiError(answer.status, await _error_code(answer))

    async def keyword_reply(self, inbound: Inbound, text: str) -> Optional[str]:
        """ "help" alone (`keyword_of`): who the assistant is and whom to call."""
        return channel_text("help_chat") if keyword_of(text) == "HELP" else None
