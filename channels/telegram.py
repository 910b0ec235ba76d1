"""Telegram through the Bot API (`/webhooks/telegram/webhook`).

Compared with Rasa 3.6's TelegramInput: every update must carry the secret token given to
setWebhook (`X-Telegram-Bot-Api-Secret-Token`, compared in constant time); nothing reaches the
network at start-up (Rasa's connector calls the API while the server starts, in a loop that is
then closed, and every update after fails with "Event loop is closed"): the HTTP session is made
in the server's loop at the first call; registering the webhook is a command of its own,
`python -m channels.telegram register`; edited messages, channel posts and other update kinds
are ignored (Rasa's connector crashed on an edited message, and Telegram retried it forever);
a button press is answered (answerCallbackQuery) so the client's spinner stops; a sticker,
photo, voice note or location gets a clear reply.

The API is called with plain aiohttp, not aiogram 2.15 (Rasa's dependency): aiogram's setWebhook
predates `secret_token`, it posts every field as a form string (lists as Python reprs), and it
logs each request's fields and the API URL, which holds the bot token, at DEBUG.

An update becomes one `Inbound` (message id: the update's `update_id`; user and address: the chat
id): a text message or a photo's caption is its text, `/start` (`/start@bot`, `/start payload`)
is "/greet", a button press is its `callback_data` (the button's payload), anything else in a
message is `None`. `/help` gets the clinic's help text without Rasa.

Replies are HTML (`parse_mode` "HTML"), every text escaped: the text, the signs to watch for,
the quotes in italics, the sources as links, the options as an inline keyboard (one button a
row). A reply longer than Telegram's 4096 characters is split between lines.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import html
import json
import logging
import os
import re
import sys
from typing import Any, Dict, List, Optional

import aiohttp
from rasa.core.channels.channel import InputChannel
from sanic import Blueprint
from sanic.request import Request

from actions.reply import Reply
from channels.message_guard import channel_text
from channels.messaging import (
    EMERGENCY,
    GREET_PAYLOAD,
    Handler,
    Inbound,
    InvalidPayload,
    MessagingInput,
    describe_failure,
)

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.telegram.org"
WEBHOOK_PATH = "/webhooks/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]  # what setWebhook asks Telegram to send
MAX_MESSAGE_CHARS = 4096  # Telegram's limit for a message's text
MAX_CALLBACK_DATA_BYTES = 64  # Telegram's limit for a button's callback_data
API_TIMEOUT_S = 10
# A bot command at the start of a message: "/start", "/start@clinic_bot", "/start some-payload".
COMMAND = re.compile(r"^/(?P<name>[A-Za-z0-9_]+)(?:@\w+)?(?:\s|$)")


class TelegramApiError(Exception):
    """A Bot API call that did not answer `{"ok": true}`. Its text names the method, the HTTP status
    and Telegram's description, never the token or the fields sent."""

    def __init__(self, method: str, status: int, description: str) -> None:
        super().__init__(f"{method} failed with status {status}: {description}")
        self.status = status  # read by channels.messaging.describe_failure


class TelegramApi:
    """The Bot API at `base` for the bot `token`: `call(method, fields)` posts the fields as JSON to
    `{base}/bot{token}/{method}` and returns the answer's `result`."""

    def __init__(self, token: str, base: str) -> None:
        self._url = f"{base.rstrip('/')}/bot{token}"
        self._session: Optional[aiohttp.ClientSession] = None

    async def call(self, method: str, fields: Dict[str, Any]) -> Any:
        """Raises TelegramApiError when Telegram answers `ok: false` or anything but JSON, and
        aiohttp.ClientError (or asyncio.TimeoutError) when it cannot be reached."""
        if self._session is None:  # made in the running loop, at the first call
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=API_TIMEOUT_S))
        async with self._session.post(f"{self._url}/{method}", json=fields) as response:
            try:
                answer = await response.json(content_type=None)
            except ValueError:
                answer = None
        if not isinstance(answer, dict) or answer.get("ok") is not True:
            description = answer.get("description") if isinstance(answer, dict) else None
            raise TelegramApiError(method, response.status, str(description or "no description"))
        return answer.get("result")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def command(text: str) -> Optional[str]:
    """The bot command a message starts with, lower case and without "/" or "@bot", or None."""
    match = COMMAND.match(text)
    return match["name"].lower() if match else None


def _escape(text: str) -> str:
    """`text` for Telegram's HTML: <, > and & escaped, as its documentation asks (quotes stay)."""
    return html.escape(text, quote=False)


def _cut(line: str, room: int) -> List[str]:
    """`line` in pieces whose escaped length is at most `room`, cut between words (inside a word
    only when the word alone is too long)."""
    pieces: List[str] = []
    current = ""
    for word in line.split(" "):
        candidate = f"{current} {word}" if current else word
        if len(_escape(candidate)) <= room:
            current = candidate
            continue
        if current:
            pieces.append(current)
        while len(_escape(word)) > room:
            end = room
            while (excess := len(_escape(word[:end])) - room) > 0:
                end -= max(1, excess // 5)  # an escaped character is at most 5 long ("&amp;")
            pieces.append(word[:end])
            word = word[end:]
        current = word
    return [*pieces, current]


def _html_lines(text: str, tag: str = "") -> List[str]:
    """`text` escaped, one entry a line (in `<tag>` if given), none longer than a message."""
    opening, closing = (f"<{tag}>", f"</{tag}>") if tag else ("", "")
    room = MAX_MESSAGE_CHARS - len(opening) - len(closing)
    return [f"{opening}{_escape(piece)}{closing}" for line in text.split("\n") for piece in _cut(line, room)]


def _link(url: str, text: str) -> str:
    return f'<a href="{html.escape(url)}">{_escape(text)}</a>'


def _source_lines(reply: Reply) -> List[str]:
    links = [_link(r["url"], f"[{r['number']}] {r['publisher']}") for r in reply.get("references") or []]
    article = reply.get("article")
    if article:
        links.append(_link(article["url"], f"{article['publisher']}: {article['title']}"))
    return ["", "Sources:", *links] if links else []


def _fits_a_keyboard(buttons: List[Dict[str, str]]) -> bool:
    return all(len(button["payload"].encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES for button in buttons)


def _keyboard(buttons: List[Dict[str, str]]) -> Dict[str, Any]:
    rows = [[{"text": button["title"], "callback_data": button["payload"]}] for button in buttons]
    return {"inline_keyboard": rows}


def _pack(lines: List[str]) -> List[str]:
    """The lines joined into as few texts as fit in a message each, split only between lines;
    blank lines at a text's start or end are dropped (Telegram refuses an empty text)."""
    texts: List[List[str]] = [[]]
    size = -1  # the length of texts[-1] joined by "\n"
    for line in lines:
        if texts[-1] and size + 1 + len(line) > MAX_MESSAGE_CHARS:
            texts.append([])
            size = -1
        texts[-1].append(line)
        size += 1 + len(line)
    joined = ("\n".join(text).strip("\n") for text in texts)
    return [text for text in joined if text.strip()]


def render_telegram(reply: Reply) -> List[Dict[str, Any]]:
    """The reply as sendMessage fields without `chat_id`: `{text, parse_mode: "HTML",
    disable_web_page_preview: true}`, the last one with `reply_markup: {inline_keyboard}` when the
    reply offers options. An emergency is its text alone, in bold. Options whose payload is too
    long for a button's callback_data are numbered lines instead (a reply of "2" picks the second,
    channels/messaging.py)."""
    if reply["kind"] == EMERGENCY:
        lines = _html_lines(reply["text"], "b")
    else:
        lines = _html_lines(reply["text"])
        lines += [line for sign in reply.get("watch_for") or [] for line in _html_lines(f"• {sign}")]
        if reply.get("quotes"):
            lines += ["", "From the article:"]
            lines += [line for quote in reply["quotes"] for line in _html_lines(quote["text"], "i")]
        lines += _source_lines(reply)
    buttons = [] if reply["kind"] == EMERGENCY else list(reply.get("buttons") or [])
    keyboard = bool(buttons) and _fits_a_keyboard(buttons)
    if buttons and not keyboard:
        numbered = [f"{i} {button['title']}" for i, button in enumerate(buttons, start=1)]
        lines += ["", *_html_lines("\n".join([channel_text("options"), *numbered]))]
    messages: List[Dict[str, Any]] = [
        {"text": text, "parse_mode": "HTML", "disable_web_page_preview": True} for text in _pack(lines)
    ]
    if keyboard and messages:
        messages[-1]["reply_markup"] = _keyboard(buttons)
    return messages


def _update(body: bytes) -> Dict[str, Any]:
    try:
        update = json.loads(body)
    except ValueError as error:  # UnicodeDecodeError is a ValueError too
        raise InvalidPayload("The body must be a JSON object (a Telegram Update).") from error
    if not isinstance(update, dict):
        raise InvalidPayload("The body must be a JSON object (a Telegram Update).")
    if not isinstance(update.get("update_id"), int) or isinstance(update.get("update_id"), bool):
        raise InvalidPayload("update_id must be an integer.")
    return update


def _chat_id(chat: Any) -> int:
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    if not isinstance(chat_id, int) or isinstance(chat_id, bool):
        raise InvalidPayload("The chat's id must be an integer.")
    return chat_id


# What a person sends that has no text for us: these get channel_text("not_text"). Any other
# message without text is a service message (members joined, a title changed, a pin...).
CONTENT_WITHOUT_TEXT = frozenset({
    "sticker", "photo", "voice", "audio", "video", "video_note", "document", "animation",
    "location", "venue", "contact", "poll", "dice",
})  # fmt: skip


def _is_private(chat: Any) -> bool:
    return isinstance(chat, dict) and chat.get("type", "private") == "private"


def _is_from_a_person(message: Dict[str, Any]) -> bool:
    return isinstance(message.get("text") or message.get("caption"), str) or bool(
        CONTENT_WITHOUT_TEXT & set(message)
    )


def _text_of(message: Dict[str, Any]) -> Optional[str]:
    text = message.get("text") or message.get("caption")
    if not isinstance(text, str):
        return None
    return GREET_PAYLOAD if command(text) == "start" else text


class TelegramInput(MessagingInput):
    """Telegram. Environment: TELEGRAM_BOT_TOKEN, TELEGRAM_SECRET_TOKEN (the secret given to
    setWebhook, which Telegram sends with every update), TELEGRAM_API_BASE (default
    https://api.telegram.org). Without the first two the channel is off: its webhook answers 404."""

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        return cls(
            os.environ.get("TELEGRAM_BOT_TOKEN", ""),
            os.environ.get("TELEGRAM_SECRET_TOKEN", ""),
            os.environ.get("TELEGRAM_API_BASE", DEFAULT_API_BASE),
        )

    def __init__(self, token: str, secret_token: str, api_base: str) -> None:
        super().__init__(enabled=bool(token and secret_token))
        self.secret_token = secret_token
        self.api = TelegramApi(token, api_base)

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        webhook = super().blueprint(on_new_message)
        if self.enabled:
            webhook.listener("after_server_stop")(self._close_api)
        return webhook

    async def _close_api(self, _app: Any, _loop: Any) -> None:
        await self.api.close()

    def verify(self, request: Request) -> bool:
        given = request.headers.get(SECRET_HEADER, "")
        return bool(given) and hmac.compare_digest(given.encode("utf-8"), self.secret_token.encode("utf-8"))

    def parse(self, request: Request) -> List[Inbound]:
        update = _update(request.body)
        update_id = str(update["update_id"])
        message, pressed = update.get("message"), update.get("callback_query")
        if isinstance(message, dict):
            if not _is_private(message.get("chat")) or not _is_from_a_person(message):
                return []  # groups (one conversation for many people) and service messages
            chat_id = _chat_id(message.get("chat"))
            return [Inbound(update_id, str(chat_id), {"chat_id": chat_id}, _text_of(message))]
        if isinstance(pressed, dict):
            # The chat of the message the button is under; in a private chat its id is the user's.
            under = pressed.get("message")
            chat_id = _chat_id(under.get("chat") if isinstance(under, dict) else pressed.get("from"))
            data = pressed.get("data")
            address = {"chat_id": chat_id, "callback_query_id": str(pressed.get("id", ""))}
            return [Inbound(update_id, str(chat_id), address, data if isinstance(data, str) else None)]
        return []  # edits, channel posts, polls...: nothing the patient asked

    async def handle(self, inbound: Inbound, on_new_message: Handler, tracker_store: Any) -> None:
        """Answers a button press first (the client shows a spinner until then), then the message."""
        if inbound.address.get("callback_query_id"):
            await self._answer_callback(inbound)
        await super().handle(inbound, on_new_message, tracker_store)

    async def _answer_callback(self, inbound: Inbound) -> None:
        try:
            await self.api.call(
                "answerCallbackQuery", {"callback_query_id": inbound.address["callback_query_id"]}
            )
        except Exception as error:  # the spinner stops by itself: the reply matters more, go on
            logger.warning("telegram: could not answer the button press of update %s (%s)",
                           inbound.message_id, describe_failure(error))  # fmt: skip

    def render(self, reply: Reply) -> List[Dict[str, Any]]:
        return render_telegram(reply)

    async def send(self, inbound: Inbound, message: Any) -> None:
        await self.api.call("sendMessage", {"chat_id": inbound.address["chat_id"], **message})

    async def keyword_reply(self, inbound: Inbound, text: str) -> Optional[str]:
        """/help: what the assistant does and the clinic's numbers."""
        return channel_text("help_chat") if command(text) == "help" else None


async def register_webhook(api: TelegramApi, public_base_url: str, secret_token: str) -> str:
    """Tells Telegram to post updates (messages and button presses only) to this server's webhook,
    with `secret_token` in every request; updates waiting at Telegram are kept. Returns the
    webhook's URL; raises as TelegramApi.call does."""
    url = f"{public_base_url.rstrip('/')}{WEBHOOK_PATH}"
    fields = {"url": url, "secret_token": secret_token, "allowed_updates": ALLOWED_UPDATES,
              "drop_pending_updates": False}  # fmt: skip
    try:
        await api.call("setWebhook", fields)
    finally:
        await api.close()
    return url


def main(argv: Optional[List[str]] = None) -> int:
    """`python -m channels.telegram register`: sets the webhook from the environment
    (TELEGRAM_BOT_TOKEN, TELEGRAM_SECRET_TOKEN, PUBLIC_BASE_URL, TELEGRAM_API_BASE). Exit status
    0 when Telegram accepted it, 1 when it did not, 2 when a setting is missing."""
    parser = argparse.ArgumentParser(
        prog="python -m channels.telegram", description="Telegram channel setup."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("register", help="point the bot's webhook at PUBLIC_BASE_URL" + WEBHOOK_PATH)
    parser.parse_args(argv)
    required = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_SECRET_TOKEN", "PUBLIC_BASE_URL")
    missing = [name for name in required if not os.environ.get(name)]
    if missing:
        print(f"Set {', '.join(missing)} first.", file=sys.stderr)
        return 2
    api = TelegramApi(os.environ["TELEGRAM_BOT_TOKEN"], os.environ.get("TELEGRAM_API_BASE", DEFAULT_API_BASE))
    try:
        url = asyncio.run(
            register_webhook(api, os.environ["PUBLIC_BASE_URL"], os.environ["TELEGRAM_SECRET_TOKEN"])
        )
    except TelegramApiError as error:
        print(f"Telegram refused the webhook: {error}", file=sys.stderr)
        return 1
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:  # its text may hold the URL with the token
        print(f"Telegram could not be reached ({describe_failure(error)}).", file=sys.stderr)
        return 1
    print(f"Telegram now posts updates to {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
