"""What a QA pass broke once, kept broken-proof: odd but signed payloads get a 400, never a 500 or a
dead server; odd headers get a 403; service messages and group chats get no reply; numbers and
keywords are read as patients type them."""

from __future__ import annotations

import json
import time

import pytest
import requests

from channels.messaging import Inbound, InvalidPayload, checked_inbound, keyword_of, option_number
from evaluation.servers import Assistant
from tests.channels import test_messenger as messenger
from tests.channels import test_slack as slack
from tests.channels import test_sms as sms
from tests.channels import test_telegram as telegram
from tests.channels.fake_platform import FakePlatform


@pytest.mark.parametrize(
    "text, keyword",
    [("stop?", "STOP"), ("Stop please!", "STOP"), ("STOP STOP", "STOP"), ("stop 🛑", "STOP"),
     ("unsubscribe.", "UNSUBSCRIBE"), ("stop it hurts", None), ("S T O P", None), ("2", None)],
)  # fmt: skip
def test_a_keyword_is_the_messages_only_word(text: str, keyword: object) -> None:
    assert keyword_of(text) == keyword


@pytest.mark.parametrize(
    "text, number",
    [("2", 2), ("2.", 2), ("#2", 2), ("2)", 2), ("option 2", 2), ("2\ufe0f\u20e3", 2), ("٢", 2),
     ("0", 0), ("99", 99), ("፩", None), ("1.5", None), ("-1", None), ("2 weeks", None)],
)  # fmt: skip
def test_an_option_number_is_read_as_patients_type_it(text: str, number: object) -> None:
    assert option_number(text) == number


@pytest.mark.parametrize(
    "inbound",
    [Inbound("m1", "12\ud800"), Inbound("m\ud800", "u1"), Inbound("m 1", "u1"), Inbound("m1", ""),
     Inbound("m1", "u1", {}, 5)],  # type: ignore[arg-type]
)  # fmt: skip
def test_ids_that_cannot_be_conversation_ids_are_refused(inbound: Inbound) -> None:
    with pytest.raises(InvalidPayload):
        checked_inbound(inbound)


def test_a_lone_surrogate_in_a_user_id_is_a_400_and_the_server_goes_on(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    body = messenger.page_body([messenger.message_event("12\ud800", "hello")])
    assert messenger.post(assistant, body).status_code == 400
    psid = messenger.new_psid()
    messenger.post(assistant, messenger.page_body([messenger.message_event(psid, "is it safe")]))
    assert fake_platform.wait_for(messenger.to(psid))


@pytest.mark.parametrize(
    "change",
    [{"text": 5}, {"text": ["a"]}, {"subtype": ["x"]}, {"subtype": {"a": 1}}],
)
def test_a_signed_slack_event_of_an_odd_shape_is_a_400(assistant: Assistant, change: dict) -> None:
    event = {**slack.direct_message(slack.slack_id("D"), "hi"), **change}
    assert slack.post_event(assistant, slack.envelope(event)).status_code == 400


@pytest.mark.parametrize("timestamp", ["²", "9" * 5000])
def test_an_odd_slack_timestamp_is_a_403(assistant: Assistant, timestamp: str) -> None:
    body = json.dumps(slack.envelope(slack.direct_message(slack.slack_id("D"), "hi")))
    headers = {**slack.signed_headers(body), "X-Slack-Request-Timestamp": timestamp}
    response = requests.post(f"{assistant.base_url}{slack.EVENTS_PATH}", data=body.encode(), headers=headers,
                             timeout=30)  # fmt: skip
    assert response.status_code == 403


def test_telegram_service_messages_and_group_chats_get_no_reply(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    chat_id = telegram.new_chat_id()
    member = {"new_chat_members": [telegram.patient(chat_id)]}
    group = telegram.message_update(chat_id, "what is kyphoplasty")
    group["message"]["chat"] = {"id": chat_id, "title": "Family", "type": "group"}
    for update in (telegram.message_update(chat_id, **member), group):
        assert telegram.post(assistant, update).status_code == 200
    assert telegram.post(assistant, telegram.message_update(chat_id, "/help")).status_code == 200
    [reply] = fake_platform.wait_for(telegram.sent_to(chat_id), settle_s=2)  # the /help reply only
    assert "kyphoplasty" in reply.body["text"]


def test_after_stop_nothing_is_sent_whatever_the_patient_sends(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    number = sms.new_number()
    [stopped] = sms.text_message(assistant, fake_platform, number, "Stop please!")
    assert "no more messages" in stopped
    forms = [sms.inbound_form(number, body) for body in ("   ", "x" * 2500, "stop", "how long is recovery?")]
    for form in [*forms, sms.inbound_form(number, "", NumMedia="1")]:
        assert sms.post(assistant, form).status_code == 200
    time.sleep(3)
    assert len(fake_platform.calls_where(sms.to(number))) == 1


def test_numbers_as_patients_type_them_pick_options_or_say_which_there_are(
    assistant: Assistant, fake_platform: FakePlatform
) -> None:
    number = sms.new_number()
    [first] = sms.text_message(assistant, fake_platform, number, "what is kyphoplasty")
    count = len(first.split("Reply with a number:\n")[1].splitlines())
    [beyond] = sms.text_message(assistant, fake_platform, number, "99")
    assert f"number from 1 to {count}" in beyond and "Reply with a number:\n1 " in beyond
    [chosen] = sms.text_message(assistant, fake_platform, number, "#1")
    assert "From the article:" in chosen
    [odd] = sms.text_message(assistant, fake_platform, number, "፩")  # not a number: still answered
    assert odd.strip()  # not a number, still answered: the message did not vanish
