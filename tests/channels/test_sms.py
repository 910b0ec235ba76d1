"""SMS and WhatsApp through Twilio against the real servers and a fake Twilio API: signed webhooks,
replies as plain numbered text, carrier keywords, duplicates, pictures, the API down."""

from __future__ import annotations

import uuid
from typing import Dict, List

import pytest
import requests
from twilio.request_validator import RequestValidator

from actions.clinic import load_clinic
from actions.knowledge import load_knowledge
from actions.replies import fill
from channels.sms import render_sms, segment_table, segments
from evaluation.servers import Assistant
from tests.channels.fake_platform import Call, FakePlatform
from tests.conftest import PUBLIC_BASE_URL, TEST_CHANNEL_SECRETS

CLINIC = load_clinic()
KNOWLEDGE = load_knowledge()
VALIDATOR = RequestValidator(TEST_CHANNEL_SECRETS["TWILIO_AUTH_TOKEN"])
SMS_PATH = "/webhooks/twilio_sms/webhook"
WHATSAPP_PATH = "/webhooks/twilio_whatsapp/webhook"


def new_number() -> str:
    return f"+1555{uuid.uuid4().int % 10**7:07d}"


def inbound_form(sender: str, body: str, **extra: str) -> Dict[str, str]:
    """What Twilio posts for an incoming message (with a field Twilio may add without notice)."""
    return {
        "MessageSid": f"SM{uuid.uuid4().hex}",
        "AccountSid": TEST_CHANNEL_SECRETS["TWILIO_ACCOUNT_SID"],
        "From": sender,
        "To": TEST_CHANNEL_SECRETS["TWILIO_SMS_NUMBER"],
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
        "AddOnsNotYetDocumented": "x",
        **extra,
    }


def post(assistant: Assistant, form: Dict[str, str], *, path: str = SMS_PATH,
         signature: str = "", signed_url: str = "") -> requests.Response:  # fmt: skip
    url = signed_url or f"{PUBLIC_BASE_URL}{path}"
    signature = signature or VALIDATOR.compute_signature(url, form)
    return requests.post(f"{assistant.base_url}{path}", data=form, headers={"X-Twilio-Signature": signature},
                         timeout=30)  # fmt: skip


def to(number: str):
    return lambda call: call.path.endswith("/Messages.json") and call.body.get("To") == number


def bodies(calls: List[Call]) -> List[str]:
    return [call.body["Body"] for call in calls]


def text_message(
    assistant: Assistant, platform: FakePlatform, number: str, body: str, count: int = 1
) -> List[str]:
    before = len(platform.calls_where(to(number)))
    response = post(assistant, inbound_form(number, body))
    assert response.status_code == 200
    assert response.text.startswith("<?xml") and "<Response></Response>" in response.text
    return bodies(platform.wait_for(to(number), before + count))[before:]


def test_an_answer_is_plain_text_with_quotes_compact_sources_and_numbered_options(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    number = new_number()
    [reply] = text_message(assistant, fake_platform, number, "wat is kyphoplasty exactly?")
    answer = KNOWLEDGE.answers["what_is_kyphoplasty"]
    assert reply.startswith(fill(answer.text).replace("’", "'"))
    assert "From the article:" in reply and "Sources:\n[2] Physiopedia physio-pedia.com/Kyphoplasty" in reply
    assert "Reply with a number:\n1 " in reply
    assert "/" + "what" not in reply and "{" not in reply  # no payloads
    call = fake_platform.calls_where(to(number))[-1]
    assert call.body["From"] == TEST_CHANNEL_SECRETS["TWILIO_SMS_NUMBER"]
    assert segments(reply).encoding == "GSM-7"


def test_a_number_picks_the_option_it_stands_for(assistant: Assistant, fake_platform: FakePlatform) -> None:
    number = new_number()
    [first] = text_message(assistant, fake_platform, number, "what is kyphoplasty")
    options = first.split("Reply with a number:\n")[1].splitlines()
    title = options[1].split(" ", 1)[1]
    chosen = next(a for a in KNOWLEDGE.answers.values() if a.question == title)
    [second] = text_message(assistant, fake_platform, number, " 2 ")
    assert second.startswith(fill(chosen.text).replace("’", "'")[:60])


def test_stop_ends_messages_start_resumes_help_names_the_clinic(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    number = new_number()
    [stopped] = text_message(assistant, fake_platform, number, "STOP")
    assert "no more messages" in stopped and "START" in stopped
    response = post(assistant, inbound_form(number, "how long is the recovery"))
    assert response.status_code == 200
    [helped] = text_message(assistant, fake_platform, number, "help")  # HELP works while stopped
    assert CLINIC.name in helped and CLINIC.phone in helped
    assert len(fake_platform.calls_where(to(number))) == 2  # nothing sent for the question
    [started] = text_message(assistant, fake_platform, number, "Start")
    assert "again" in started
    [answer] = text_message(assistant, fake_platform, number, "how long is the recovery")
    assert "From the article:" in answer


@pytest.mark.parametrize("kind", ["forged", "missing", "local_url", "changed_field"])
def test_a_request_without_a_valid_signature_is_refused_and_changes_nothing(
    assistant: Assistant, fake_platform: FakePlatform, kind: str
) -> None:
    number = new_number()
    form = inbound_form(number, "what is kyphoplasty")
    local_url = f"{assistant.base_url}{SMS_PATH}"
    signature = {
        "forged": "bm90IGEgc2lnbmF0dXJl",
        "missing": "",
        "local_url": VALIDATOR.compute_signature(local_url, form),  # Twilio signs the public URL
        "changed_field": VALIDATOR.compute_signature(f"{PUBLIC_BASE_URL}{SMS_PATH}", {**form, "Body": "hi"}),
    }[kind]
    headers = {"X-Twilio-Signature": signature} if signature else {}
    response = requests.post(local_url, data=form, headers=headers, timeout=30)
    assert response.status_code == 403
    # The refused message id was not taken: the same message, signed, is answered.
    assert post(assistant, form).status_code == 200
    assert len(fake_platform.wait_for(to(number))) == 1


def test_the_same_message_delivered_twice_is_answered_once(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    number = new_number()
    form = inbound_form(number, "is it safe")
    assert post(assistant, form).status_code == 200
    assert post(assistant, form).status_code == 200
    assert len(fake_platform.wait_for(to(number), settle_s=3)) == 1


def test_a_picture_without_text_gets_a_clear_reply(assistant: Assistant, fake_platform: FakePlatform) -> None:
    number = new_number()
    form = inbound_form(number, "", NumMedia="1", MediaUrl0="https://api.twilio.com/media/x.jpg",
                        MediaContentType0="image/jpeg")  # fmt: skip
    assert post(assistant, form).status_code == 200
    [reply] = bodies(fake_platform.wait_for(to(number)))
    assert "only read typed messages" in reply and CLINIC.emergency_number in reply


def test_an_emergency_goes_first_on_its_own(assistant: Assistant, fake_platform: FakePlatform) -> None:
    number = new_number()
    replies = text_message(
        assistant, fake_platform, number, "my legs went numb and i cant pee since this morning"
    )
    assert CLINIC.emergency_number in replies[0]
    assert "From the article:" not in replies[0]


def test_when_twilio_is_down_the_message_is_kept_and_not_logged(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    number = new_number()
    marker = f"zq{uuid.uuid4().hex[:8]}"
    fake_platform.down = True
    try:
        assert post(assistant, inbound_form(number, f"what is kyphoplasty {marker}")).status_code == 200
        attempts = fake_platform.wait_for(to(number), 3, settle_s=3)
        assert len(attempts) == 3  # bounded retries
    finally:
        fake_platform.down = False
    # The conversation was saved although nothing was sent: "1" picks the unsent reply's option 1.
    [reply] = text_message(assistant, fake_platform, number, "1")
    assert "From the article:" in reply
    logs = (assistant.logs / "rasa.log").read_text(encoding="utf-8", errors="replace")
    assert "send attempt 3 of 3 failed" in logs and marker not in logs


def test_whatsapp_uses_its_own_sender_and_whatsapp_addresses(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    sender = f"whatsapp:{new_number()}"
    form = {**inbound_form(sender, "what is kyphoplasty"), "To": "whatsapp:+15550100001"}
    assert post(assistant, form, path=WHATSAPP_PATH).status_code == 200
    [call] = fake_platform.wait_for(to(sender))
    assert call.body["From"] == f"whatsapp:{TEST_CHANNEL_SECRETS['TWILIO_WHATSAPP_NUMBER']}"
    assert "Reply with a number:" in call.body["Body"]
    sms_form = inbound_form(new_number(), "hi")  # an SMS number on the WhatsApp webhook
    assert post(assistant, sms_form, path=WHATSAPP_PATH).status_code == 400


def test_a_web_client_cannot_address_an_sms_conversation(assistant: Assistant) -> None:
    response = assistant.post(json={"sender": "twilio_sms:+15550123456", "message": "1"})
    assert response.status_code == 400


def test_segments_follow_the_gsm_and_ucs2_rules() -> None:
    assert segments("a" * 160) == segments("a" * 160)
    assert (segments("a" * 160).encoding, segments("a" * 160).segments) == ("GSM-7", 1)
    assert segments("a" * 161).segments == 2 and segments("a" * 306).segments == 2
    assert segments("a" * 307).segments == 3
    assert segments("[" * 80).segments == 1 and segments("[" * 81).segments == 2  # two septets each
    assert (segments("’" + "a" * 69).encoding, segments("’" + "a" * 69).segments) == ("UCS-2", 1)
    assert segments("’" + "a" * 70).segments == 2
    assert segments("😀" * 35).segments == 1 and segments("😀" * 36).segments == 2  # surrogate pairs


def test_every_answer_goes_out_in_gsm7_within_ten_segments() -> None:
    from actions.answers import answer_reply

    rows = segment_table([answer_reply([a], []) for a in KNOWLEDGE.answers.values()])
    assert {row["encoding"] for row in rows} == {"GSM-7"}
    assert max(row["segments"] for row in rows) <= 10
    assert all(
        len(body) <= 1600 for a in KNOWLEDGE.answers.values() for body in render_sms(answer_reply([a], []))
    )
