"""Slack against the real servers and a fake Slack Web API: signed Events API and interactivity
requests, replies as Block Kit messages in the patient's own conversation, retries, the app's own
messages, red flags, the API down; and `render_slack` on fixed replies."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Dict, List, Optional
from urllib.parse import urlencode

import pytest
import requests
from slack_sdk.signature import SignatureVerifier

from actions.clinic import load_clinic
from actions.knowledge import load_knowledge
from actions.replies import fill
from actions.reply import new_reply, payload_for
from channels.message_guard import channel_text
from channels.slack import SlackInput, escape, event_inbounds, render_slack, split_text
from evaluation.servers import Assistant
from tests.channels.fake_platform import Call, FakePlatform
from tests.conftest import TEST_CHANNEL_SECRETS

CLINIC = load_clinic()
KNOWLEDGE = load_knowledge()
VERIFIER = SignatureVerifier(TEST_CHANNEL_SECRETS["SLACK_SIGNING_SECRET"])
EVENTS_PATH = "/webhooks/slack/webhook"
INTERACTIVE_PATH = "/webhooks/slack/interactive"
TEAM = "T0CLINIC01"
BOT_USER = "U0BOTUSER1"
BOT_ID = "B0BOTID001"


def slack_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:10].upper()


def slack_ts() -> str:
    return f"{time.time():.6f}"


def envelope(event: Dict[str, Any], event_id: str = "") -> Dict[str, Any]:
    """An Events API request body as Slack sends it."""
    return {
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",  # the deprecated verification token: not used
        "team_id": TEAM,
        "context_team_id": TEAM,
        "context_enterprise_id": None,
        "api_app_id": "A0CLINICAPP",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or slack_id("Ev"),
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM,
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],  # fmt: skip
        "is_ext_shared_channel": False,
        "event_context": "4-eyJldCI6Im1lc3NhZ2UiLCJ0aWQiOiJUMENMSU5JQzAxIn0",
    }


def direct_message(channel: str, text: str, user: str = "", **fields: Any) -> Dict[str, Any]:
    ts = slack_ts()
    return {
        "client_msg_id": str(uuid.uuid4()),
        "type": "message",
        "text": text,
        "user": user or slack_id("U"),
        "ts": ts,
        "blocks": [
            {
                "type": "rich_text",
                "block_id": "bk1",
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
            }
        ],  # fmt: skip
        "team": TEAM,
        "channel": channel,
        "event_ts": ts,
        "channel_type": "im",
        **fields,
    }


def signed_headers(body: str, *, timestamp: Optional[int] = None, form: bool = False) -> Dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": "application/x-www-form-urlencoded" if form else "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": VERIFIER.generate_signature(timestamp=stamp, body=body) or "",
    }


def post_event(
    assistant: Assistant, body: Dict[str, Any], headers: Optional[Dict[str, str]] = None
) -> requests.Response:
    data = json.dumps(body)
    headers = signed_headers(data) if headers is None else headers
    return requests.post(
        f"{assistant.base_url}{EVENTS_PATH}", data=data.encode("utf-8"), headers=headers, timeout=30
    )


def press(assistant: Assistant, channel: str, user: str, button: Dict[str, Any]) -> requests.Response:
    """What Slack posts to /interactive when a patient presses one of the app's buttons."""
    ts = slack_ts()
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "pat", "name": "pat", "team_id": TEAM},
        "api_app_id": "A0CLINICAPP",
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}",
        "team": {"id": TEAM, "domain": "clinic"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "directmessage"},
        "message": {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "ts": ts, "text": "..."},
        "state": {"values": {}},
        "response_url": "https://hooks.slack.com/actions/T0CLINIC01/1/x",
        "actions": [{**button, "block_id": "b1", "action_ts": slack_ts()}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    return requests.post(f"{assistant.base_url}{INTERACTIVE_PATH}", data=body,
                         headers=signed_headers(body, form=True), timeout=30)  # fmt: skip


def to(channel: str):
    return lambda call: call.path.endswith("/chat.postMessage") and call.body.get("channel") == channel


def send_dm(
    assistant: Assistant, platform: FakePlatform, channel: str, text: str, count: int = 1, user: str = ""
) -> List[Call]:
    before = len(platform.calls_where(to(channel)))
    response = post_event(assistant, envelope(direct_message(channel, text, user)))
    assert response.status_code == 200
    return platform.wait_for(to(channel), before + count)[before:]


def section_texts(call: Call) -> List[str]:
    return [block["text"]["text"] for block in call.body["blocks"] if block["type"] == "section"]


def buttons_of(call: Call) -> List[Dict[str, Any]]:
    return [
        element
        for block in call.body["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def answer_with_payload(payload: str):
    return next(a for a in KNOWLEDGE.answers.values() if payload_for(a) == payload)


def test_a_direct_message_is_answered_in_its_conversation_with_blocks(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    channel = slack_id("D")
    [call] = send_dm(assistant, fake_platform, channel, "wat is kyphoplasty exactly?")
    assert call.path == "/api/chat.postMessage"
    assert call.headers["Authorization"] == f"Bearer {TEST_CHANNEL_SECRETS['SLACK_BOT_TOKEN']}"
    assert set(call.body) == {"channel", "text", "blocks"}  # no thread: a direct message's own conversation
    answer = escape(fill(KNOWLEDGE.answers["what_is_kyphoplasty"].text))
    assert [block["type"] for block in call.body["blocks"]] == ["section", "section", "section", "actions"]
    text, quotes, sources = section_texts(call)
    assert text == answer and call.body["text"] == answer
    assert quotes.startswith("*From the article:*\n_Kyphoplasty is a relatively new procedure")
    assert all(line.startswith("_") and line.endswith("_") for line in quotes.splitlines()[1:])
    assert sources.splitlines()[:2] == [
        "*Sources:*",
        "<https://www.physio-pedia.com/Kyphoplasty|[2] Physiopedia>",
    ]
    buttons = buttons_of(call)
    assert buttons and len({b["action_id"] for b in buttons}) == len(buttons)
    for button in buttons:
        assert button["type"] == "button" and button["text"]["type"] == "plain_text"
        assert answer_with_payload(button["value"]).question.startswith(button["text"]["text"].rstrip("…"))


def test_a_mention_in_a_channel_is_answered_in_its_thread_once(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    channel, user, ts = slack_id("C"), slack_id("U"), slack_ts()
    text = f"<@{BOT_USER}> how long is the recovery?"
    mention = {"type": "app_mention", "user": user, "text": text, "ts": ts, "team": TEAM, "channel": channel,
               "event_ts": ts, "client_msg_id": str(uuid.uuid4())}  # fmt: skip
    # The same message also arrives as a channel message: only the mention is answered.
    in_channel = {**direct_message(channel, text, user), "ts": ts, "channel_type": "channel"}
    assert post_event(assistant, envelope(mention)).status_code == 200
    assert post_event(assistant, envelope(in_channel)).status_code == 200
    [call] = fake_platform.wait_for(to(channel), settle_s=3)
    assert call.body["thread_ts"] == ts
    assert "From the article:" in section_texts(call)[1]


def test_a_button_press_answers_its_option(assistant: Assistant, fake_platform: FakePlatform) -> None:
    channel, user = slack_id("D"), slack_id("U")
    [first] = send_dm(assistant, fake_platform, channel, "what is kyphoplasty", user=user)
    button = buttons_of(first)[1]
    chosen = answer_with_payload(button["value"])
    assert press(assistant, channel, user, button).status_code == 200
    [second] = fake_platform.wait_for(to(channel), 2)[1:]
    assert section_texts(second)[0] == escape(fill(chosen.text))


def test_the_url_check_gets_its_challenge_only_when_signed(assistant: Assistant) -> None:
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    check = {"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": challenge, "type": "url_verification"}
    response = post_event(assistant, check)
    assert response.status_code == 200 and response.json() == {"challenge": check["challenge"]}
    assert post_event(assistant, check, headers={"Content-Type": "application/json"}).status_code == 403


@pytest.mark.parametrize("kind", ["forged", "missing", "stale", "other_body"])
def test_a_request_without_a_valid_signature_is_refused_and_changes_nothing(
    assistant: Assistant, fake_platform: FakePlatform, kind: str
) -> None:
    channel = slack_id("D")
    body = envelope(direct_message(channel, "what is kyphoplasty"))
    data = json.dumps(body)
    headers = {
        "forged": {**signed_headers(data), "X-Slack-Signature": "v0=" + "0" * 64},
        "missing": {"Content-Type": "application/json"},
        "stale": signed_headers(data, timestamp=int(time.time()) - 600),  # correctly signed, 10 minutes old
        "other_body": signed_headers(data.replace("what is", "who is")),
    }[kind]
    assert post_event(assistant, body, headers).status_code == 403
    # The refused event id was not taken: the same event, signed, is answered.
    assert post_event(assistant, body).status_code == 200
    assert len(fake_platform.wait_for(to(channel))) == 1


def test_a_retried_event_is_answered_once(assistant: Assistant, fake_platform: FakePlatform) -> None:
    channel = slack_id("D")
    body = envelope(direct_message(channel, "is it safe"))
    data = json.dumps(body)
    assert post_event(assistant, body).status_code == 200
    retry = {**signed_headers(data), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert post_event(assistant, body, retry).status_code == 200
    assert len(fake_platform.wait_for(to(channel), settle_s=3)) == 1


def test_the_apps_own_messages_and_edits_get_no_reply(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    channel, user = slack_id("D"), slack_id("U")
    echo = {**direct_message(channel, "Kyphoplasty is a procedure", BOT_USER), "bot_id": BOT_ID,
            "app_id": "A0CLINICAPP", "bot_profile": {"id": BOT_ID, "name": "Clinic assistant"}}  # fmt: skip
    original = direct_message(channel, "what is kyphoplasty", user)
    edited = {**original, "text": "what is kyphoplasty exactly", "edited": {"user": user, "ts": slack_ts()}}
    edit = {"type": "message", "subtype": "message_changed", "message": edited, "previous_message": original,
            "channel": channel, "hidden": True, "ts": slack_ts(), "channel_type": "im"}  # fmt: skip
    assert post_event(assistant, envelope(echo)).status_code == 200
    assert post_event(assistant, envelope(edit)).status_code == 200
    # Ignored events are dropped before the acknowledgement: the next message's answer is the only call.
    [call] = send_dm(assistant, fake_platform, channel, "how long is the recovery", user=user)
    assert fake_platform.calls_where(to(channel)) == [call]


def test_a_file_without_text_gets_a_clear_reply(assistant: Assistant, fake_platform: FakePlatform) -> None:
    channel = slack_id("D")
    file = {"id": slack_id("F"), "name": "xray.jpg", "mimetype": "image/jpeg", "filetype": "jpg",
            "url_private": "https://files.slack.com/files-pri/T0CLINIC01-F1/xray.jpg"}  # fmt: skip
    share = {**direct_message(channel, ""), "subtype": "file_share", "files": [file], "upload": False}
    assert post_event(assistant, envelope(share)).status_code == 200
    [call] = fake_platform.wait_for(to(channel))
    assert section_texts(call) == [escape(channel_text("not_text"))]
    assert CLINIC.emergency_number in call.body["text"]


def test_help_gets_the_chat_help(assistant: Assistant, fake_platform: FakePlatform) -> None:
    [call] = send_dm(assistant, fake_platform, slack_id("D"), "Help")
    assert section_texts(call) == [escape(channel_text("help_chat"))]


def test_an_emergency_goes_first_on_its_own(assistant: Assistant, fake_platform: FakePlatform) -> None:
    channel = slack_id("D")
    assert (
        post_event(
            assistant, envelope(direct_message(channel, "my legs went numb and i cant pee"))
        ).status_code
        == 200
    )
    first = fake_platform.wait_for(to(channel))[0]
    assert {block["type"] for block in first.body["blocks"]} == {"section"}
    texts = section_texts(first)
    assert CLINIC.emergency_number in "".join(texts) and "From the article:" not in "".join(texts)
    assert all(
        line.startswith("*") and line.endswith("*") for text in texts for line in text.splitlines() if line
    )


def test_when_slack_is_down_the_message_is_kept_and_not_logged(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    channel, user = slack_id("D"), slack_id("U")
    marker = f"zq{uuid.uuid4().hex[:8]}"
    fake_platform.down = True
    try:
        body = envelope(direct_message(channel, f"what is kyphoplasty {marker}", user))
        assert post_event(assistant, body).status_code == 200
        assert len(fake_platform.wait_for(to(channel), 3, settle_s=3)) == 3  # bounded retries
    finally:
        fake_platform.down = False
    # The conversation was saved although nothing was sent: "1" picks the unsent reply's option 1.
    [call] = send_dm(assistant, fake_platform, channel, "1", user=user)
    assert "From the article:" in section_texts(call)[1]
    logs = (assistant.logs / "rasa.log").read_text(encoding="utf-8", errors="replace")
    assert "slack: send attempt 3 of 3 failed" in logs
    assert marker not in logs and TEST_CHANNEL_SECRETS["SLACK_BOT_TOKEN"] not in logs


def test_the_channel_is_off_without_its_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TEST_CHANNEL_SECRETS["SLACK_BOT_TOKEN"])
    off = SlackInput.from_credentials(None)
    assert not off.enabled and not off.blueprint(lambda message: None)._future_routes
    monkeypatch.setenv("SLACK_SIGNING_SECRET", TEST_CHANNEL_SECRETS["SLACK_SIGNING_SECRET"])
    on = SlackInput.from_credentials(None)
    paths = {route.uri for route in on.blueprint(lambda message: None)._future_routes}
    assert on.enabled and {"/webhook", "/interactive"} <= paths


def test_a_mention_and_escapes_are_taken_out_of_the_patients_text() -> None:
    ts = slack_ts()
    text = f"<@{BOT_USER}> is 3 &lt; 5 &amp; safe?"
    mention = {"type": "app_mention", "user": "U1", "text": text, "ts": ts, "team": TEAM, "channel": "C1"}
    [inbound] = event_inbounds(envelope(mention, "Ev1"))
    assert (inbound.message_id, inbound.user, inbound.text) == ("Ev1", f"{TEAM}-U1", "is 3 < 5 & safe?")
    assert inbound.address == {"channel": "C1", "thread_ts": ts}


def test_render_escapes_every_text_and_link() -> None:
    reply = new_reply(
        "after_care",
        "Pain <5/10> & swelling",
        quotes=[{"id": "q", "text": "Use ice < 20 min.[1]", "refs": [1]}],
        references=[{"number": 1, "label": "L", "publisher": "A|B & C", "url": "https://x.example/?a=1&b=2"}],
        watch_for=["Fever > 38 °C"],
    )
    [message] = render_slack(reply)
    text, quotes, sources = section_texts(Call("", {}, {}, message))
    assert text == "Pain &lt;5/10&gt; &amp; swelling\n• Fever &gt; 38 °C"
    assert message["text"] == text
    assert quotes == "*From the article:*\n_Use ice &lt; 20 min.[1]_"
    assert sources == "*Sources:*\n<https://x.example/?a=1&amp;b=2|[1] A/B &amp; C>"


def test_an_emergency_is_bold_and_alone() -> None:
    [message] = render_slack(new_reply("emergency", "Call 911 now.\nDo not drive.", call=["911"]))
    assert message["blocks"] == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Call 911 now.*\n*Do not drive.*"}}
    ]


def test_render_keeps_within_slacks_limits() -> None:
    words = " ".join(f"word{i} &" for i in range(30000))  # ~260,000 characters once escaped
    buttons = [{"title": f"Question {i} " + "x" * 100, "payload": f"/q{i}"} for i in range(60)]
    buttons.append({"title": "Too long to send", "payload": "/" + "x" * 2000})
    messages = render_slack(new_reply("answer", words, buttons=buttons))
    assert len(messages) > 1 and all(len(m["blocks"]) <= 50 for m in messages)
    blocks = [block for m in messages for block in m["blocks"]]
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(text) <= 3000 for text in texts) and " ".join(texts) == escape(words)
    actions = [b["elements"] for b in blocks if b["type"] == "actions"]
    assert [len(elements) for elements in actions] == [25, 25, 10]  # the 2001-character payload left out
    elements = [element for elements in actions for element in elements]
    assert all(len(e["text"]["text"]) == 75 and e["text"]["text"].endswith("…") for e in elements)
    assert [e["value"] for e in elements] == [f"/q{i}" for i in range(60)]
    assert len({e["action_id"] for e in elements}) == 60
    assert all(m["text"] and len(m["text"]) <= 3000 for m in messages)


def test_a_long_word_is_never_cut_inside_an_escape() -> None:
    escaped = escape("&" * 2000)
    pieces = split_text(escaped)
    assert "".join(pieces) == escaped and all(len(p) <= 3000 and p.startswith("&amp;") for p in pieces)
    assert all(p.endswith(";") for p in pieces)
