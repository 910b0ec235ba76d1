"""Facebook Messenger against the real servers and a fake Graph API: signed page events (batched,
echoes and receipts, quick replies, "Get Started", attachments), the subscription check, the exact
Send API calls, duplicates, red flags first, the Send API down; and the rendering rules alone."""

from __future__ import annotations

import hmac
import json
import time
import uuid
from typing import Any, Callable, Dict, List, Optional

import pytest
import requests

from actions.clinic import load_clinic
from actions.knowledge import load_knowledge
from actions.replies import fill
from actions.reply import new_reply, payload_for
from channels.message_guard import channel_text
from channels.messenger import (
    GRAPH_API_VERSION,
    MAX_QUICK_REPLIES,
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    MessengerInput,
    inbound_of,
    render_messenger,
    short_title,
)
from evaluation.servers import Assistant
from tests.channels.fake_platform import Call, FakePlatform
from tests.conftest import TEST_CHANNEL_SECRETS

CLINIC = load_clinic()
KNOWLEDGE = load_knowledge()
APP_SECRET = TEST_CHANNEL_SECRETS["MESSENGER_APP_SECRET"]
PAGE_TOKEN = TEST_CHANNEL_SECRETS["MESSENGER_PAGE_ACCESS_TOKEN"]
VERIFY_TOKEN = TEST_CHANNEL_SECRETS["MESSENGER_VERIFY_TOKEN"]
PATH = "/webhooks/messenger/webhook"
SEND_PATH = f"/{GRAPH_API_VERSION}/me/messages"
PAGE_ID = "104729355812345"
Event = Dict[str, Any]


def new_psid() -> str:
    return str(10**15 + uuid.uuid4().int % 10**15)


def new_mid() -> str:
    return f"m_{uuid.uuid4().hex}{uuid.uuid4().hex}"


def now_ms() -> int:
    return int(time.time() * 1000)


def message_event(psid: str, text: Optional[str] = None, **fields: Any) -> Event:
    """A `messaging` event for a message the patient sent (Meta's shape, fields as documented)."""
    message: Dict[str, Any] = {"mid": new_mid(), **fields}
    if text is not None:
        message["text"] = text
    return {"sender": {"id": psid}, "recipient": {"id": PAGE_ID}, "timestamp": now_ms(), "message": message}


def postback_event(psid: str, title: str, payload: str) -> Event:
    postback = {"title": title, "payload": payload, "mid": new_mid()}
    return {"sender": {"id": psid}, "recipient": {"id": PAGE_ID}, "timestamp": now_ms(), "postback": postback}


def page_body(*entries: List[Event]) -> bytes:
    """What Meta posts: one entry per list of events, as raw bytes (non-ASCII escaped, as Meta does)."""
    payload = {
        "object": "page",
        "entry": [{"id": PAGE_ID, "time": now_ms(), "messaging": events} for events in entries],
    }
    return json.dumps(payload).encode("utf-8")


def signature(body: bytes, algorithm: str = "sha256", secret: str = APP_SECRET) -> str:
    return f"{algorithm}={hmac.new(secret.encode(), body, algorithm).hexdigest()}"


def post(assistant: Assistant, body: bytes, headers: Optional[Dict[str, str]] = None) -> requests.Response:
    """Posts `body` signed as Meta signs it (both headers), unless `headers` are given."""
    if headers is None:
        headers = {"X-Hub-Signature": signature(body, "sha1"), "X-Hub-Signature-256": signature(body)}
    headers = {"Content-Type": "application/json", **headers}
    return requests.post(f"{assistant.base_url}{PATH}", data=body, headers=headers, timeout=30)


def to(*psids: str) -> Callable[[Call], bool]:
    return lambda call: call.path == SEND_PATH and call.body.get("recipient", {}).get("id") in psids


def messages(calls: List[Call]) -> List[Dict[str, Any]]:
    return [call.body["message"] for call in calls]


def send(
    assistant: Assistant, platform: FakePlatform, psid: str, event: Event, count: int = 1
) -> List[Dict[str, Any]]:
    """Posts one event from `psid` and returns the Send API messages it caused."""
    before = len(platform.calls_where(to(psid)))
    response = post(assistant, page_body([event]))
    assert response.status_code == 200 and response.json() == {"status": "received"}
    return messages(platform.wait_for(to(psid), before + count))[before:]


def numbered_options(text: str) -> List[str]:
    lines = text.split(channel_text("options") + "\n")[1].splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == [str(i) for i in range(1, len(lines) + 1)]
    return [line.split(" ", 1)[1] for line in lines]


def test_an_answer_is_one_send_api_call_with_quotes_sources_numbered_options_and_quick_replies(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    psid = new_psid()
    [message] = send(assistant, fake_platform, psid, message_event(psid, "wat is kyphoplasty exactly?"))
    call = fake_platform.calls_where(to(psid))[-1]
    assert call.path == SEND_PATH and call.query == {"access_token": [PAGE_TOKEN]}
    assert call.body == {"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": message}
    assert set(message) == {"text", "quick_replies"}
    text = message["text"]
    assert text.startswith(fill(KNOWLEDGE.answers["what_is_kyphoplasty"].text))
    assert "\nFrom the article:\n“" in text
    assert "\nSources:\n[2] Physiopedia https://www.physio-pedia.com" in text
    assert len(text) <= MAX_TEXT_CHARS and "**" not in text and "<a" not in text
    questions = numbered_options(text)
    by_question = {answer.question: answer for answer in KNOWLEDGE.answers.values()}
    assert message["quick_replies"] == [
        {"content_type": "text", "title": short_title(f"{i} {q}"), "payload": payload_for(by_question[q])}
        for i, q in enumerate(questions[:MAX_QUICK_REPLIES], start=1)
    ]
    assert all(len(button["title"]) <= MAX_TITLE_CHARS for button in message["quick_replies"])


def test_a_quick_reply_press_answers_its_option(assistant: Assistant, fake_platform: FakePlatform) -> None:
    psid = new_psid()
    [first] = send(assistant, fake_platform, psid, message_event(psid, "what is kyphoplasty"))
    pressed = first["quick_replies"][1]
    chosen = next(a for a in KNOWLEDGE.answers.values() if payload_for(a) == pressed["payload"])
    event = message_event(psid, pressed["title"], quick_reply={"payload": pressed["payload"]})
    [second] = send(assistant, fake_platform, psid, event)
    assert second["text"].startswith(fill(chosen.text)[:60])


def test_a_typed_number_answers_that_option(assistant: Assistant, fake_platform: FakePlatform) -> None:
    psid = new_psid()
    [first] = send(assistant, fake_platform, psid, message_event(psid, "how long is the recovery"))
    chosen = next(a for a in KNOWLEDGE.answers.values() if a.question == numbered_options(first["text"])[0])
    [second] = send(assistant, fake_platform, psid, message_event(psid, "1"))
    assert second["text"].startswith(fill(chosen.text)[:60])


def test_the_get_started_button_greets(assistant: Assistant, fake_platform: FakePlatform) -> None:
    psid = new_psid()
    event = postback_event(psid, "Get Started", "GET_STARTED")
    [greeting, menu] = send(assistant, fake_platform, psid, event, count=2)
    assert greeting["text"].startswith("Hello!") and CLINIC.name in greeting["text"]
    assert menu["quick_replies"] and channel_text("options") in menu["text"]  # the questions to start with


def test_help_says_who_the_assistant_is(assistant: Assistant, fake_platform: FakePlatform) -> None:
    psid = new_psid()
    [reply] = send(assistant, fake_platform, psid, message_event(psid, "Help"))
    assert reply == {"text": channel_text("help_chat")}
    assert CLINIC.phone in reply["text"]


def test_a_batch_of_two_entries_from_two_patients_answers_both(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    first, second = new_psid(), new_psid()
    body = page_body([message_event(first, "is it safe")], [message_event(second, "what is kyphoplasty")])
    assert post(assistant, body).status_code == 200
    [to_first] = messages(fake_platform.wait_for(to(first)))
    [to_second] = messages(fake_platform.wait_for(to(second)))
    assert "From the article:" in to_first["text"]
    assert to_second["text"].startswith(fill(KNOWLEDGE.answers["what_is_kyphoplasty"].text))


def test_echoes_receipts_and_reactions_get_no_reply(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    psid = new_psid()
    mid = new_mid()
    page, user = {"id": PAGE_ID}, {"id": psid}
    echoed = {"is_echo": True, "app_id": 1517776481860111, "mid": mid, "text": "Hello!"}
    echo = {"sender": page, "recipient": user, "timestamp": now_ms(), "message": echoed}
    delivery = {"sender": user, "recipient": page, "delivery": {"mids": [mid], "watermark": now_ms()}}
    read = {"sender": user, "recipient": page, "timestamp": now_ms(), "read": {"watermark": now_ms()}}
    reaction = {"sender": user, "recipient": page, "timestamp": now_ms(),
                "reaction": {"mid": mid, "action": "react", "reaction": "love", "emoji": "❤"}}  # fmt: skip
    assert post(assistant, page_body([echo, delivery], [read, reaction])).status_code == 200
    # A real message after them: once it is answered, the ignored events would have been too.
    assert post(assistant, page_body([message_event(psid, "is it safe")])).status_code == 200
    calls = fake_platform.wait_for(to(psid, PAGE_ID), settle_s=3)
    assert [call.body["recipient"]["id"] for call in calls] == [psid]


@pytest.mark.parametrize("kind", ["forged", "missing", "sha1_only", "other_body"])
def test_a_request_without_a_valid_signature_is_refused_and_takes_nothing(
    assistant: Assistant, fake_platform: FakePlatform, kind: str
) -> None:
    psid = new_psid()
    body = page_body([message_event(psid, "what is kyphoplasty")])
    headers = {
        "forged": {"X-Hub-Signature-256": signature(body, secret="not-the-app-secret")},
        "missing": {},
        "sha1_only": {"X-Hub-Signature": signature(body, "sha1")},
        "other_body": {"X-Hub-Signature-256": signature(body.replace(b"what is", b"why is"))},
    }[kind]
    response = post(assistant, body, headers)
    assert response.status_code == 403
    # The refused message id was not taken: the same event, signed, is answered (once).
    assert post(assistant, body).status_code == 200
    assert len(fake_platform.wait_for(to(psid), settle_s=2)) == 1


def test_a_signed_body_that_is_not_a_page_event_is_a_bad_request(assistant: Assistant) -> None:
    not_json = b"{not json"
    instagram = json.dumps({"object": "instagram", "entry": []}).encode()
    for body in (not_json, instagram):
        assert post(assistant, body).status_code == 400


def test_the_same_message_delivered_twice_is_answered_once(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    psid = new_psid()
    body = page_body([message_event(psid, "is it safe")])
    assert post(assistant, body).status_code == 200
    assert post(assistant, body).status_code == 200
    assert len(fake_platform.wait_for(to(psid), settle_s=3)) == 1


def test_a_picture_without_text_gets_a_clear_reply(assistant: Assistant, fake_platform: FakePlatform) -> None:
    psid = new_psid()
    image = {"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/v/t1.15752-9/photo.jpg"}}
    [reply] = send(assistant, fake_platform, psid, message_event(psid, attachments=[image]))
    assert reply == {"text": channel_text("not_text")}
    assert "only read typed messages" in reply["text"] and CLINIC.emergency_number in reply["text"]


def test_the_subscription_check_echoes_the_challenge_only_for_the_verify_token(assistant: Assistant) -> None:
    def check(token: str, mode: str = "subscribe") -> requests.Response:
        query = {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": "1158201444"}
        return requests.get(f"{assistant.base_url}{PATH}", params=query, timeout=30)

    accepted = check(VERIFY_TOKEN)
    assert (accepted.status_code, accepted.text) == (200, "1158201444")
    assert check("not-the-verify-token").status_code == 403
    assert check(VERIFY_TOKEN, mode="unsubscribe").status_code == 403
    assert requests.get(f"{assistant.base_url}/webhooks/messenger/", timeout=30).json() == {"status": "ok"}


def test_a_red_flag_is_sent_first_on_its_own(assistant: Assistant, fake_platform: FakePlatform) -> None:
    psid = new_psid()
    body = page_body([message_event(psid, "my legs went numb and i cant pee")])
    assert post(assistant, body).status_code == 200
    first = messages(fake_platform.wait_for(to(psid), settle_s=3))[0]
    assert set(first) == {"text"} and CLINIC.emergency_number in first["text"]
    assert "From the article:" not in first["text"] and "Sources:" not in first["text"]


def test_when_the_send_api_is_down_the_message_is_kept_and_no_secret_is_logged(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    psid = new_psid()
    marker = f"zq{uuid.uuid4().hex[:8]}"
    fake_platform.down = True
    try:
        body = page_body([message_event(psid, f"what is kyphoplasty {marker}")])
        assert post(assistant, body).status_code == 200
        assert len(fake_platform.wait_for(to(psid), 3, settle_s=3)) == 3  # bounded retries
    finally:
        fake_platform.down = False
    # The conversation was saved although nothing was sent: "1" picks the unsent reply's option 1.
    [reply] = send(assistant, fake_platform, psid, message_event(psid, "1"))
    assert "From the article:" in reply["text"]
    logs = (assistant.logs / "rasa.log").read_text(encoding="utf-8", errors="replace")
    assert "messenger: send attempt 3 of 3 failed (SendApiError, status 500)" in logs
    assert marker not in logs
    assert not [secret for secret in (PAGE_TOKEN, APP_SECRET, VERIFY_TOKEN) if secret in logs]


def test_the_channel_is_off_without_its_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MESSENGER_APP_SECRET", raising=False)
    monkeypatch.setenv("MESSENGER_PAGE_ACCESS_TOKEN", PAGE_TOKEN)
    monkeypatch.setenv("MESSENGER_VERIFY_TOKEN", VERIFY_TOKEN)
    assert MessengerInput.from_credentials(None).enabled is False
    monkeypatch.setenv("MESSENGER_APP_SECRET", APP_SECRET)
    assert MessengerInput.from_credentials(None).enabled is True


def test_only_a_patients_messages_and_postbacks_become_inbound_messages() -> None:
    psid = new_psid()
    sticker = message_event(psid, attachments=[{"type": "image", "payload": {"sticker_id": 369239263222822}}])
    assert inbound_of(sticker).text is None
    assert inbound_of(sticker).message_id == sticker["message"]["mid"]
    assert inbound_of(message_event(psid, "Is it safe?", quick_reply={"payload": "/is_it_safe"})).text == (
        "/is_it_safe"
    )
    assert inbound_of(postback_event(psid, "Get Started", "GET_STARTED")).text == "/greet"
    assert inbound_of(postback_event(psid, "Recovery", "/recovery_time")).text == "/recovery_time"
    no_mid = {"sender": {"id": psid}, "timestamp": 1458692752478, "postback": {"payload": "/greet"}}
    other_at_the_same_time = {**no_mid, "postback": {"payload": "/recovery"}}
    assert inbound_of(no_mid).message_id.startswith(f"{psid}:1458692752478:")
    assert inbound_of(no_mid).message_id == inbound_of(dict(no_mid)).message_id  # a retry: the same
    assert inbound_of(other_at_the_same_time).message_id != inbound_of(no_mid).message_id
    assert inbound_of({"sender": {"id": psid}, "read": {"watermark": 1}}) is None
    echo = {"sender": {"id": PAGE_ID}, "message": {"is_echo": True, "mid": new_mid(), "text": "Hi"}}
    assert inbound_of(echo) is None


@pytest.mark.parametrize(
    ("question", "title"),
    [
        ("What is kyphoplasty?", "What is kyphoplasty?"),  # exactly 20: whole
        ("Will I be awake or asleep?", "Will I be awake or…"),
        ("How does the doctor see where to go?", "How does the doctor…"),  # a space right at 20
        ("Is it a big surgery? How big is the cut?", "Is it a big…"),
        ("Vertebroplastykyphoplasty explained", "Vertebroplastykypho…"),  # one overlong word
    ],
)
def test_quick_reply_titles_end_at_a_word_within_twenty_characters(question: str, title: str) -> None:
    assert short_title(question) == title


def test_every_question_fits_a_quick_reply_title() -> None:
    for answer in KNOWLEDGE.answers.values():
        title = short_title(answer.question)
        assert len(title) <= MAX_TITLE_CHARS
        assert title == answer.question or answer.question.startswith(title[:-1])


def test_a_long_reply_is_split_between_lines_with_the_quick_replies_last() -> None:
    questions = [f"Question number {i} about the recovery after kyphoplasty?" for i in range(1, 21)]
    buttons = [{"title": q, "payload": f"/q{i}"} for i, q in enumerate(questions, start=1)]
    paragraphs = "\n".join(f"Paragraph {i}: " + "word " * 60 for i in range(40))
    reply = new_reply("answer", paragraphs, buttons=buttons)
    rendered = render_messenger(reply)
    assert len(rendered) > 1
    assert all(len(message["text"]) <= MAX_TEXT_CHARS for message in rendered)
    assert all("quick_replies" not in message for message in rendered[:-1])
    assert "\n".join(message["text"] for message in rendered).split("\n") == [
        *paragraphs.split("\n"),
        channel_text("options"),
        *(f"{i} {q}" for i, q in enumerate(questions, start=1)),
    ]
    quick = rendered[-1]["quick_replies"]
    assert [b["payload"] for b in quick] == [f"/q{i}" for i in range(1, MAX_QUICK_REPLIES + 1)]
    assert all(len(b["title"]) <= MAX_TITLE_CHARS and b["content_type"] == "text" for b in quick)


def test_a_line_longer_than_a_message_is_cut_at_spaces() -> None:
    text = "kyphoplasty " * 400  # 4800 characters, no line break
    rendered = render_messenger(new_reply("answer", text.strip()))
    assert [len(message["text"]) <= MAX_TEXT_CHARS for message in rendered] == [True, True, True]
    assert " ".join(message["text"] for message in rendered) == text.strip()
