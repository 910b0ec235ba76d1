"""Every channel's renderer against the same reply fixtures (tests/reply_fixtures.py): whatever
the platform, a patient sees the whole reply (text, signs to watch for, every quote, every source's
link, every option), emergencies stand alone and first, and no internal payload is shown."""

from __future__ import annotations

import html
import os
import re
from typing import Any, Callable, Dict, List

import pytest

from actions.reply import Reply
from channels.messaging import MessagingInput, in_sending_order
from channels.messenger import MessengerInput, render_messenger
from channels.slack import SlackInput, render_slack, unescape
from channels.sms import TwilioSmsInput, TwilioWhatsAppInput, render_sms
from channels.telegram import TelegramInput, render_telegram
from channels.text_output import render_text
from tests.reply_fixtures import FIXTURES, NOTED_ANSWER

TYPOGRAPHY = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-"})


def _flat(text: str) -> str:
    return " ".join(text.translate(TYPOGRAPHY).split()).lower()


def _telegram(messages: List[Dict[str, Any]]) -> str:
    parts = []
    for message in messages:
        parts += re.findall(r'href="([^"]+)"', message["text"])
        parts.append(html.unescape(re.sub(r"<[^>]+>", "", message["text"])))
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        parts += [button["text"] for row in rows for button in row]
    return "\n".join(parts)


def _messenger(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(message["text"] for message in messages)  # the options are numbered lines


def _slack(messages: List[Dict[str, Any]]) -> str:
    parts = []
    for message in messages:
        for block in message["blocks"]:
            text = block.get("text", {}).get("text", "")
            parts += re.findall(r"<([^|>]+)\|", text)
            parts.append(
                unescape(re.sub(r"<[^|>]+\|([^>]+)>", r"\1", text)).replace("_", "").replace("*", "")
            )
            parts += [element["text"]["text"] for element in block.get("elements", []) if "text" in element]
    return "\n".join(parts)


def _plain(messages: List[Any]) -> str:
    return "\n".join(m if isinstance(m, str) else m["text"] for m in messages)


RENDERERS: Dict[str, Callable[[Reply], List[Any]]] = {
    "text": render_text,
    "sms": render_sms,
    "telegram": render_telegram,
    "messenger": render_messenger,
    "slack": render_slack,
}
SHOWN: Dict[str, Callable[[List[Any]], str]] = {
    "text": lambda messages: _plain(messages)
    + "".join(b["title"] for m in messages for b in m.get("buttons", [])),
    "sms": _plain,
    "telegram": _telegram,
    "messenger": _messenger,
    "slack": _slack,
}
# "/recovery" or '/conditions_treated{...}' standing on its own (not a link's path)
PAYLOAD_SHOWN = re.compile(r"(?:^|\s)/[a-z_]+(?:\{|\s|$)", re.MULTILINE)


@pytest.mark.parametrize("channel", RENDERERS)
@pytest.mark.parametrize("kind", FIXTURES)
def test_a_patient_sees_the_whole_reply_on_every_channel(channel: str, kind: str) -> None:
    reply = FIXTURES[kind]
    shown = _flat(SHOWN[channel](RENDERERS[channel](reply)))
    assert _flat(reply["text"])[:80] in shown
    for sign in reply.get("watch_for", []):
        assert _flat(sign) in shown
    for quote in reply["quotes"]:
        assert _flat(quote["text"]) in shown
    for reference in reply["references"]:
        assert re.sub(r"^https?://(www\.)?", "", reference["url"]).lower() in shown
    for button in reply["buttons"]:
        assert _flat(button["title"]) in shown
    if channel != "text":  # the REST channel gives payloads to its client as `buttons`
        assert not PAYLOAD_SHOWN.search(SHOWN[channel](RENDERERS[channel](reply)))


@pytest.mark.parametrize("channel", [c for c in RENDERERS if c != "text"])
def test_an_emergency_is_one_message_and_a_safety_note_goes_first_on_its_own(channel: str) -> None:
    assert len(RENDERERS[channel](FIXTURES["emergency"])) == 1
    emergency, answer = in_sending_order([NOTED_ANSWER])
    assert emergency["kind"] == "emergency" and emergency["text"] == NOTED_ANSWER["safety_note"]["text"]
    assert answer["safety_note"] is None and answer["text"] == NOTED_ANSWER["text"]
    [note] = RENDERERS[channel](emergency)
    assert _flat(NOTED_ANSWER["safety_note"]["text"]) in _flat(SHOWN[channel]([note]))


def test_in_sending_order_puts_emergencies_before_everything() -> None:
    ordered = in_sending_order([FIXTURES["answer"], FIXTURES["emergency"], NOTED_ANSWER])
    assert [r["kind"] for r in ordered] == ["emergency", "emergency", "answer", "answer"]
    assert ordered[0] is FIXTURES["emergency"]


@pytest.mark.parametrize(
    "channel", [TwilioSmsInput, TwilioWhatsAppInput, TelegramInput, MessengerInput, SlackInput]
)
def test_a_channel_without_its_secrets_is_off_and_has_no_routes(
    channel: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith(("TWILIO_", "TELEGRAM_", "MESSENGER_", "SLACK_")):
            monkeypatch.delenv(name)
    connector: MessagingInput = channel.from_credentials(None)
    assert connector.enabled is False
    assert not connector.blueprint(lambda message: None)._future_routes
