"""SMS and WhatsApp through Twilio (`/webhooks/twilio_sms/webhook`, `/webhooks/twilio_whatsapp/webhook`).

Compared with Rasa 3.6's TwilioInput: every request's `X-Twilio-Signature` is checked with
Twilio's own `RequestValidator`, over every form field as received and the public URL Twilio
called (`PUBLIC_BASE_URL`, needed behind a TLS proxy); options are numbered lines, and a reply of
"1", "2"... picks one (channels/messaging.py), never payloads; a message without text (a picture)
gets a clear reply; carrier keywords (STOP, START, HELP and synonyms) behave as patients expect;
the request is acknowledged with empty TwiML and the reply sent through the REST API.

Replies are plain text, transliterated to the GSM-7 alphabet where the meaning is unchanged
(curly quotes, dashes, ellipses): one character outside it makes the whole message UCS-2, 70
characters a segment instead of 160. `segments` counts what a text costs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs

from rasa.core.channels.channel import InputChannel
from sanic import response
from sanic.request import Request, RequestParameters
from sanic.response import HTTPResponse
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from actions.reply import Reply
from channels.delivery_store import delivery_store
from channels.message_guard import channel_text
from channels.messaging import Inbound, InvalidPayload, MessagingInput, keyword_of

# GSM 03.38: the basic alphabet (one septet each) and its extension table (two septets each).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
# Typography with a GSM-7 equivalent of the same meaning.
TO_GSM7 = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...",
                         "\u00a0": " ", "•": "-", "«": '"', "»": '"'})  # fmt: skip
MAX_BODY_CHARS = 1600  # Twilio's limit for one message (it splits it into segments itself)
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
START_WORDS = frozenset({"START", "UNSTOP"})
RESUME_WORDS = frozenset({"YES"})  # START's synonym, but only for a number that opted out
HELP_WORDS = frozenset({"HELP", "INFO"})
TWIML_ACK = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@dataclass(frozen=True)
class SegmentCount:
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int  # SMS parts the carrier sends
    characters: int


def segments(text: str) -> SegmentCount:
    """The SMS segments of `text`: GSM-7 if every character is in the GSM 03.38 alphabet (160
    septets alone, 153 a part when concatenated; an extension character takes two, never split),
    else UCS-2 (70 UTF-16 units alone, 67 a part; a surrogate pair never split)."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        encoding, single, part = "GSM-7", 160, 153
        units = [2 if c in GSM7_EXTENSION else 1 for c in text]
    else:
        encoding, single, part = "UCS-2", 70, 67
        units = [len(c.encode("utf-16-le")) // 2 for c in text]
    if sum(units) <= single:
        return SegmentCount(encoding, 1 if text else 0, len(text))
    count, used = 1, 0
    for size in units:
        if used + size > part:
            count, used = count + 1, 0
        used += size
    return SegmentCount(encoding, count, len(text))


def to_gsm7(text: str) -> str:
    return text.translate(TO_GSM7)


def short_link(url: str) -> str:
    """The link without "https://" and "www.": phones still make it tappable, in fewer characters."""
    return re.sub(r"^https?://(www\.)?", "", url)


def render_sms(reply: Reply) -> List[str]:
    """The reply as SMS bodies: text, signs to watch for, quotes with their [n], compact sources
    (publisher and link), numbered options. Longer than MAX_BODY_CHARS: split between lines."""
    lines = [reply["text"], *(f"- {sign}" for sign in reply.get("watch_for", []))]
    if reply.get("quotes"):
        lines.append("From the article:")
        lines += [f'"{q["text"]}"' for q in reply["quotes"]]
    references = reply.get("references", [])
    sources = [f"[{r['number']}] {r['publisher']} {short_link(r['url'])}" for r in references]
    if reply.get("article"):
        sources.append(f"{reply['article']['publisher']} {short_link(reply['article']['url'])}")
    if sources:
        lines += ["Sources:", *sources]
    if reply.get("buttons"):
        lines.append(channel_text("options"))
        lines += [f"{i} {button['title']}" for i, button in enumerate(reply["buttons"], start=1)]
    return _bodies([to_gsm7(line) for line in lines])


def _bodies(lines: List[str]) -> List[str]:
    bodies, current = [], ""
    for line in lines:
        for piece in (line[i : i + MAX_BODY_CHARS] for i in range(0, len(line), MAX_BODY_CHARS)):
            if current and len(current) + 1 + len(piece) > MAX_BODY_CHARS:
                bodies.append(current)
                current = ""
            current = f"{current}\n{piece}" if current else piece
    return [*bodies, current] if current else bodies


def _form(request: Request) -> RequestParameters:
    """Every form field as received, blank ones too (Sanic's `request.form` drops them, but Twilio
    signs them all)."""
    return RequestParameters(parse_qs(request.body.decode("utf-8", errors="replace"), keep_blank_values=True))


class TwilioSmsInput(MessagingInput):
    """SMS through Twilio. Environment: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_SMS_NUMBER
    (the clinic's number, E.164), PUBLIC_BASE_URL (the https origin Twilio calls; default: the
    URL as this server sees it), TWILIO_API_BASE (tests only). Without the first three the channel
    is off: its webhook answers 404."""

    SENDER_ENV = "TWILIO_SMS_NUMBER"
    ADDRESS_PREFIX = ""  # what Twilio puts before the number in From/To

    @classmethod
    def name(cls) -> str:
        return "twilio_sms"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        return cls(
            os.environ.get("TWILIO_ACCOUNT_SID", ""),
            os.environ.get("TWILIO_AUTH_TOKEN", ""),
            os.environ.get(cls.SENDER_ENV, ""),
        )

    def __init__(self, account_sid: str, auth_token: str, number: str) -> None:
        super().__init__(enabled=bool(account_sid and auth_token and number))
        self.account_sid, self.auth_token = account_sid, auth_token
        self.sender = f"{self.ADDRESS_PREFIX}{number}"
        self.validator = RequestValidator(auth_token)
        self.public_base_url = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")
        self._client: Optional[Client] = None

    def verify(self, request: Request) -> bool:
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature:
            return False
        url = f"{self.public_base_url}{request.path}" if self.public_base_url else request.url.split("?")[0]
        if request.query_string:
            url = f"{url}?{request.query_string}"
        return self.validator.validate(url, _form(request), signature)

    def parse(self, request: Request) -> List[Inbound]:
        form = _form(request)
        message_id, sender = form.get("MessageSid"), form.get("From")
        if not message_id or not sender:
            raise InvalidPayload("MessageSid and From are required.")
        if not sender.startswith(self.ADDRESS_PREFIX):
            raise InvalidPayload(f"From must start with {self.ADDRESS_PREFIX!r} on this channel.")
        body = form.get("Body") or ""
        has_media = (form.get("NumMedia") or "0") != "0"
        return [
            Inbound(
                message_id,
                sender[len(self.ADDRESS_PREFIX) :],
                {"to": sender},
                None if has_media and not body.strip() else body,
            )
        ]

    def conversation_id(self, inbound: Inbound) -> str:
        return sms_conversation_id(self.name(), self.auth_token, inbound.user)

    def acknowledgement(self) -> HTTPResponse:
        return response.text(TWIML_ACK, content_type="application/xml")

    def render(self, reply: Reply) -> List[str]:
        return render_sms(reply)

    async def send(self, inbound: Inbound, message: Any) -> None:
        if self._client is None:  # made in the server's event loop, on first use
            self._client = Client(self.account_sid, self.auth_token, http_client=AsyncTwilioHttpClient())
            self._client.api.base_url = os.environ.get("TWILIO_API_BASE", "https://api.twilio.com")
        await self._client.messages.create_async(to=inbound.address["to"], from_=self.sender, body=message)

    async def keyword_reply(self, inbound: Inbound, text: str) -> Optional[str]:
        """STOP and its synonyms: opted out, one confirmation; START: opted in; HELP: the clinic's
        name and number (also while opted out, as carriers require). A keyword is the message's
        only word, with any punctuation, emoji or "please" (`keyword_of`)."""
        word = keyword_of(text)
        store = delivery_store()
        if word in STOP_WORDS:  # one confirmation: a second STOP gets nothing
            if await store.is_opted_out(self.name(), inbound.user):
                return ""
            await store.set_opted_out(self.name(), inbound.user, True)
            return channel_text("stopped")
        resuming = word in RESUME_WORDS and await store.is_opted_out(self.name(), inbound.user)
        if word in START_WORDS or resuming:
            await store.set_opted_out(self.name(), inbound.user, False)
            return channel_text("started")
        if word in HELP_WORDS:
            return channel_text("help")
        return None

    async def may_reply(self, inbound: Inbound) -> bool:
        return not await delivery_store().is_opted_out(self.name(), inbound.user)


def sms_conversation_id(channel: str, auth_token: str, number: str) -> str:
    """The conversation id of a phone number: `<channel>:` and 32 hex digits of HMAC-SHA256 keyed
    by the Twilio auth token, so the tracker store never holds the number (the replies go to the
    number the webhook gives). A new auth token starts new conversations; sessions end after 60
    minutes anyway. The opt-outs keep the number itself: STOP must be honoured (delivery_store)."""
    digest = hmac.new(auth_token.encode("utf-8"), number.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{channel}:{digest[:32]}"


class TwilioWhatsAppInput(TwilioSmsInput):
    """WhatsApp through Twilio: the same as SMS, with its own sender (TWILIO_WHATSAPP_NUMBER) and
    `whatsapp:` addresses."""

    SENDER_ENV = "TWILIO_WHATSAPP_NUMBER"
    ADDRESS_PREFIX = "whatsapp:"

    @classmethod
    def name(cls) -> str:
        return "twilio_whatsapp"


def segment_table(replies: List[Reply]) -> List[Dict[str, Any]]:
    """Per reply: its SMS bodies' encodings and segment counts (for the benchmark and the README)."""
    rows = []
    for reply in replies:
        counts = [segments(body) for body in render_sms(reply)]
        rows.append({
            "encoding": "UCS-2" if any(c.encoding == "UCS-2" for c in counts) else "GSM-7",
            "segments": sum(c.segments for c in counts),
            "characters": sum(c.characters for c in counts),
        })  # fmt: skip
    return rows
