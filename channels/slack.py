"""Slack through the Events API and interactivity (`/webhooks/slack/webhook`, `/webhooks/slack/interactive`).

Compared with Rasa 3.6's SlackInput: every request is checked with the app's signing secret (Slack's
v0 HMAC-SHA256 over the timestamp and the raw body, at most 5 minutes old) before anything else is
read; a retried event (X-Slack-Retry-Num) is taken once, by its event_id; the request is
acknowledged at once and the reply posted in the background (Slack retries after 3 s); replies go
to the patient's own conversation (the direct message, or the thread of the channel message that
mentioned the app), never to a configured channel; the app's own messages, edits and other
subtypes are ignored; options are buttons, whose presses come back to /interactive.

What Slack posts:
    /webhook      JSON {"type": "url_verification", "challenge"}: answered {"challenge"};
                  JSON {"type": "event_callback", "event_id", "team_id", "event": {"type":
                  "message" (channel_type "im") | "app_mention", "user", "channel", "text", "ts",
                  "thread_ts"?, "files"?, "bot_id"?, "subtype"?}}
    /interactive  form `payload` = JSON {"type": "block_actions", "trigger_id", "user": {"id",
                  "team_id"}, "team": {"id"}, "channel": {"id"}, "container": {"thread_ts"?},
                  "actions": [{"type": "button", "value"}]}
A signed request that is not JSON (or has no event_id, user or channel where one is required) is
refused with 400 (`InvalidPayload`); other event and interaction types are acknowledged and
ignored. Replies are chat.postMessage calls `{"text", "blocks"}` (`render_slack`).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs, urlsplit, urlunsplit

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from actions.reply import Reply
from channels.message_guard import channel_text
from channels.messaging import EMERGENCY, Handler, Inbound, InvalidPayload, MessagingInput, keyword_of

Block = Dict[str, Any]
SlackMessage = Dict[str, Any]  # chat.postMessage arguments: {"text", "blocks"}

DEFAULT_API_BASE = "https://slack.com/api/"
# Slack's limits (Block Kit reference): a message, a section's text, an actions block, a button.
MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_BUTTONS_PER_BLOCK = 25
MAX_BUTTON_TEXT_CHARS = 75
MAX_BUTTON_VALUE_CHARS = 2000
# Message subtypes a patient sends; every other one (edits, deletions, joins, bots) is not a question.
PATIENT_SUBTYPES = frozenset({"", "file_share", "thread_broadcast"})
INTERACTIVE_ROUTE = "/interactive"  # button presses; events come to the base's /webhook
LEADING_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>[\s,:]*")


def escape(text: str) -> str:
    """Text for a mrkdwn field: Slack reads `&`, `<` and `>` as markup unless escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """A patient's message as typed: Slack escapes `&`, `<` and `>` in the text it delivers."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def link(url: str, label: str) -> str:
    """A mrkdwn link `<url|label>`; a "|" would end the URL or the label early."""
    return f"<{escape(url).replace('|', '%7C')}|{escape(label).replace('|', '/')}>"


def split_text(text: str, limit: int = MAX_SECTION_CHARS) -> List[str]:
    """Escaped mrkdwn in pieces of at most `limit` characters, cut after a line break or a space
    where there is one, and never inside an escape such as `&amp;`."""
    pieces = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        if cut <= 0:  # one long word: cut it, before an escape that would be cut in two
            entity = text.rfind("&", 0, limit)
            cut = entity if entity > max(0, text.rfind(";", 0, limit)) else limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*pieces, text] if text.strip() else pieces


def sections(mrkdwn: str) -> List[Block]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": piece}} for piece in split_text(mrkdwn)]


def _main_text(reply: Reply) -> str:
    lines = [escape(line.strip()) for line in reply["text"].split("\n")]
    if reply["kind"] == EMERGENCY:  # bold ends at a line break in mrkdwn: each line on its own
        lines = [f"*{line}*" if line else "" for line in lines]
    return "\n".join([*lines, *(f"• {escape(sign)}" for sign in reply.get("watch_for", []))])


def _quotes(reply: Reply) -> str:
    if not reply.get("quotes"):
        return ""
    return "\n".join(["*From the article:*", *(f"_{escape(q['text'].strip())}_" for q in reply["quotes"])])


def _sources(reply: Reply) -> str:
    lines = [link(r["url"], f"[{r['number']}] {r['publisher']}") for r in reply.get("references", [])]
    article = reply.get("article")
    if article:
        lines.append(link(article["url"], f"{article['publisher']}: {article['title']}"))
    return "\n".join(["*Sources:*", *lines]) if lines else ""


def button(number: int, title: str, payload: str) -> Block:
    text = title if len(title) <= MAX_BUTTON_TEXT_CHARS else title[: MAX_BUTTON_TEXT_CHARS - 1] + "…"
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "value": payload,
        "action_id": f"option_{number}",  # unique in the message, as Slack requires
    }


def action_blocks(buttons: List[Dict[str, str]]) -> List[Block]:
    """One button per option, at most MAX_BUTTONS_PER_BLOCK to an actions block. A payload longer
    than Slack allows is left out: cut short, it would send a different message."""
    elements = [
        button(number, b["title"], b["payload"])
        for number, b in enumerate(buttons, start=1)
        if len(b["payload"]) <= MAX_BUTTON_VALUE_CHARS
    ]
    return [
        {"type": "actions", "elements": elements[i : i + MAX_BUTTONS_PER_BLOCK]}
        for i in range(0, len(elements), MAX_BUTTONS_PER_BLOCK)
    ]


def _fallback(blocks: List[Block]) -> str:
    """The notification text of a message: its first section's text, else its buttons' titles."""
    for block in blocks:
        if block["type"] == "section":
            return block["text"]["text"]
    titles = [element["text"]["text"] for block in blocks for element in block["elements"]]
    return escape(" / ".join(titles))[:MAX_SECTION_CHARS]


def render_slack(reply: Reply) -> List[SlackMessage]:
    """The reply as chat.postMessage arguments `[{"text", "blocks"}]`: the text (bold lines for an
    emergency) with the signs to watch for as "• " lines; "From the article:" with the quotes in
    italics; "Sources:" as links `<url|[n] publisher>` and the clinic's article; the options as
    buttons whose value is their payload. More than MAX_BLOCKS blocks: several messages."""
    blocks = [
        *(block for part in (_main_text(reply), _quotes(reply), _sources(reply)) for block in sections(part)),
        *action_blocks(reply.get("buttons") or []),
    ]
    groups = [blocks[i : i + MAX_BLOCKS] for i in range(0, len(blocks), MAX_BLOCKS)]
    return [{"text": _fallback(group), "blocks": group} for group in groups]


def api_base_url(configured: str) -> str:
    """slack_sdk's `base_url`: the configured URL with a trailing slash; an origin alone (how
    tests/conftest.py points every *_API_BASE at the fake platform) gets Slack's path /api/."""
    parts = urlsplit(configured)
    path = parts.path if parts.path.strip("/") else "/api/"
    return urlunsplit(parts._replace(path=path.rstrip("/") + "/"))


def _json(text: str) -> Dict[str, Any]:
    try:
        payload = json.loads(text)
    except ValueError as error:
        raise InvalidPayload("The body is not JSON.") from error
    if not isinstance(payload, dict):
        raise InvalidPayload("The body is not a JSON object.")
    return payload


def url_verification_challenge(body: bytes) -> Optional[str]:
    """The challenge of a url_verification request (Slack checking the URL), else None."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    is_check = isinstance(payload, dict) and payload.get("type") == "url_verification"
    return str(payload.get("challenge", "")) if is_check else None


def _required(fields: Dict[str, Any], *names: str) -> List[str]:
    """The values of these fields, in order; InvalidPayload unless each is a non-empty string."""
    values = [fields.get(name) for name in names]
    if not all(isinstance(value, str) and value for value in values):
        raise InvalidPayload(f"{', '.join(names)} are required.")
    return [str(value) for value in values]


def _inbound(
    message_id: str, team: str, user: str, channel: str, thread: Optional[str], text: Optional[str]
) -> Inbound:
    """The patient is their workspace and user id (a user id is unique only in its workspace), joined
    with "-": a conversation id's ":" is the channel's own."""
    return Inbound(message_id, f"{team}-{user}", {"channel": channel, "thread_ts": thread}, text)


def _is_interactive(request: Request) -> bool:
    return request.path.endswith(INTERACTIVE_ROUTE)


def _is_patient_event(event: Dict[str, Any]) -> bool:
    """A message to the app from a person: a direct message, or a channel message mentioning the app
    (the same message also arrives as a "message" event in the channel: that one is not taken)."""
    if event.get("bot_id") or (event.get("subtype") or "") not in PATIENT_SUBTYPES:
        return False  # the app's own replies come back with a bot_id and no subtype
    return event.get("type") == "app_mention" or (
        event.get("type") == "message" and event.get("channel_type") == "im"
    )


def _event_text(event: Dict[str, Any]) -> Optional[str]:
    """The text without the mention of the app it starts with; None for a file without a comment."""
    text = LEADING_MENTION.sub("", unescape(event.get("text") or ""))
    return None if event.get("files") and not text.strip() else text


def event_inbounds(envelope: Dict[str, Any]) -> List[Inbound]:
    """The patient's message in an Events API envelope, or [] for what is not one."""
    if envelope.get("type") != "event_callback":
        return []
    event = envelope.get("event")
    if not isinstance(event, dict):
        raise InvalidPayload("event_callback without an event.")
    if not _is_patient_event(event):
        return []
    [event_id] = _required(envelope, "event_id")
    user, channel = _required(event, "user", "channel")
    team = event.get("user_team") or event.get("team") or envelope.get("team_id") or ""
    thread = event.get("thread_ts") or (event.get("ts") if event["type"] == "app_mention" else None)
    return [_inbound(event_id, team, user, channel, thread, _event_text(event))]


def action_inbounds(payload: Dict[str, Any]) -> List[Inbound]:
    """The option a patient pressed, as the message its button sends, or [] for other interactions
    (and for buttons outside a conversation, such as in a modal)."""
    pressed = [a for a in payload.get("actions") or [] if a.get("type") == "button" and a.get("value")]
    channel = (payload.get("channel") or {}).get("id")
    if payload.get("type") != "block_actions" or not pressed or not channel:
        return []
    [trigger_id] = _required(payload, "trigger_id")
    person = payload.get("user") or {}
    [user] = _required(person, "id")
    team = person.get("team_id") or (payload.get("team") or {}).get("id") or ""
    container, message = payload.get("container") or {}, payload.get("message") or {}
    thread = container.get("thread_ts") or message.get("thread_ts")
    return [_inbound(trigger_id, team, user, channel, thread, pressed[0]["value"])]


class SlackInput(MessagingInput):
    """Slack. Environment: SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN (xoxb-), SLACK_API_BASE (default
    https://slack.com/api/; tests only). Without the first two the channel is off: its routes
    answer 404. The app subscribes to message.im and app_mention events."""

    @classmethod
    def name(cls) -> str:
        return "slack"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        return cls(os.environ.get("SLACK_SIGNING_SECRET", ""), os.environ.get("SLACK_BOT_TOKEN", ""))

    def __init__(self, signing_secret: str, bot_token: str) -> None:
        super().__init__(enabled=bool(signing_secret and bot_token))
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self.bot_token = bot_token
        self.api_base = api_base_url(os.environ.get("SLACK_API_BASE", DEFAULT_API_BASE))
        self._client: Optional[AsyncWebClient] = None

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        """The base's routes, and /interactive for button presses (the same checks and handling)."""
        webhook = super().blueprint(on_new_message)
        if self.enabled:

            @webhook.route(INTERACTIVE_ROUTE, methods=["POST"])
            async def interactive(request: Request) -> HTTPResponse:
                return await self.receive(request, on_new_message)

        return webhook

    def verify(self, request: Request) -> bool:
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if self.verifier is None or not timestamp.isdigit() or not signature:
            return False
        try:
            return self.verifier.is_valid(request.body, timestamp, signature)
        except UnicodeDecodeError:  # the SDK decodes the body; Slack only sends UTF-8
            return False

    async def receive(self, request: Request, on_new_message: Handler) -> HTTPResponse:
        """The base's flow; a signed url_verification (Slack checking the URL) gets its challenge."""
        challenge = None if _is_interactive(request) else url_verification_challenge(request.body)
        if challenge is not None and self._verified(request):
            return response.json({"challenge": challenge})
        return await super().receive(request, on_new_message)

    def parse(self, request: Request) -> List[Inbound]:
        body = request.body.decode("utf-8")
        if _is_interactive(request):
            [payload] = parse_qs(body).get("payload") or [""]
            return action_inbounds(_json(payload))
        return event_inbounds(_json(body))

    def render(self, reply: Reply) -> List[SlackMessage]:
        return render_slack(reply)

    async def send(self, inbound: Inbound, message: Any) -> None:
        if self._client is None:  # made in the server's event loop, on first use
            # No retries of its own: the base's bounded retries are the only ones.
            self._client = AsyncWebClient(token=self.bot_token, base_url=self.api_base, retry_handlers=[])
        await self._client.chat_postMessage(
            channel=inbound.address["channel"], thread_ts=inbound.address.get("thread_ts"), **message
        )

    async def keyword_reply(self, inbound: Inbound, text: str) -> Optional[str]:
        """ "help" alone (`keyword_of`): what the assistant is and whom to call."""
        return channel_text("help_chat") if keyword_of(text) == "HELP" else None
