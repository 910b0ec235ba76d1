"""A typed message is patient text: only the exact payload of a button the assistant offered in
the conversation skips NLU (channels/button_payloads.py); anything else starting with "/" goes
through NLU and the red-flag check like any text. On the session's real servers; what skipped NLU
is read from the stored conversation (a payload is stored as sent, with its intent at confidence
1.0; typed text without its "/")."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any, Dict, List, Tuple

import pytest
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered

from actions.clinic import load_clinic
from actions.knowledge import load_knowledge
from actions.reply import payload_for
from channels.button_payloads import offered_buttons, offered_payloads, patient_text
from channels.message_guard import channel_text
from evaluation.dialogue_cases import Chat, widget_chat
from evaluation.servers import Assistant
from tests.channels.test_telegram import button_press, message_update, new_chat_id, send

KNOWLEDGE = load_knowledge()
CLINIC = load_clinic()
BY_PAYLOAD = {payload_for(answer): answer for answer in KNOWLEDGE.answers.values()}
RECOVERY = {"title": "How long is recovery?", "payload": "/recovery"}
CANDIDATE = {"title": "Am I a candidate?", "payload": '/conditions_treated{"condition": "osteoporosis"}'}


def bot(*buttons: Dict[str, str], custom: bool = True) -> BotUttered:
    data = {"custom": {"kind": "answer", "buttons": list(buttons)}} if custom else {"buttons": list(buttons)}
    return BotUttered("an answer", data)


def test_the_payloads_offered_are_those_of_the_current_session() -> None:
    events = [
        bot(RECOVERY),
        SessionStarted(),
        ActionExecuted("action_listen"),
        bot(CANDIDATE, custom=False),  # a domain response's buttons
        UserUttered("what is it?"),
        bot(RECOVERY),
    ]
    assert offered_payloads(events) == {CANDIDATE["payload"], RECOVERY["payload"]}
    assert offered_buttons(events) == [RECOVERY]  # the last turn's, for numbered options
    assert offered_buttons([*events, UserUttered("thanks")]) == []


@pytest.mark.parametrize(
    "text, kept",
    [
        ("/recovery", "/recovery"),
        (
            '/conditions_treated{"condition": "osteoporosis"}',
            '/conditions_treated{"condition": "osteoporosis"}',
        ),
        ("/greet", "greet"),
        ('/conditions_treated{"condition": "cancer"}', 'conditions_treated{"condition": "cancer"}'),
        ("/recovery ", "recovery "),  # not exactly the payload
        ("// I can't breathe", "I can't breathe"),
        ("what is it?", "what is it?"),
    ],
)
def test_only_an_offered_payload_keeps_its_slash(text: str, kept: str) -> None:
    assert patient_text(text, {RECOVERY["payload"], CANDIDATE["payload"]}) == kept


def stored_user_turns(assistant: Assistant, sender: str) -> List[Tuple[str, str, float]]:
    """`(text, intent, confidence)` of each stored patient message of the conversation."""
    with sqlite3.connect(assistant.logs / "conversations.db") as connection:
        rows = connection.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id", (sender,)
        ).fetchall()
    turns = [json.loads(data) for (data,) in rows]
    return [
        (t["text"], t["parse_data"]["intent"]["name"], t["parse_data"]["intent"]["confidence"]) for t in turns
    ]


@pytest.fixture(scope="module")
def widget(assistant: Assistant) -> Chat:
    return widget_chat(assistant.base_url)


def customs(messages: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [m["custom"] for m in messages if isinstance(m.get("custom"), dict)]


def test_an_entity_value_that_is_not_a_string_gets_a_normal_reply(assistant: Assistant) -> None:
    sender = uuid.uuid4().hex
    replies = assistant.chat(sender, '/am_i_a_candidate{"condition":{}}')
    assert replies and all(m["text"] != channel_text("no_reply") for m in replies)
    [(text, _, _)] = stored_user_turns(assistant, sender)
    assert text == 'am_i_a_candidate{"condition":{}}'  # read as text, not as a payload


def test_a_typed_payload_no_button_offered_is_text(assistant: Assistant) -> None:
    sender = uuid.uuid4().hex
    assistant.chat(sender, "how long is recovery?")
    replies = assistant.chat(sender, "/greet")
    assert replies and all(m["text"] != channel_text("no_reply") for m in replies)
    assert stored_user_turns(assistant, sender)[1][0] == "greet"


def test_the_payload_of_a_button_just_offered_skips_nlu(assistant: Assistant) -> None:
    sender = uuid.uuid4().hex
    first = assistant.chat(sender, "what is kyphoplasty?")
    pressed = next(b["payload"] for m in first for b in m.get("buttons", []) if "{" not in b["payload"])
    replies = assistant.chat(sender, pressed)
    answer = KNOWLEDGE.answers[pressed[1:]]
    assert answer.text.format(**CLINIC.template_values()) in replies[0]["text"]
    assert stored_user_turns(assistant, sender)[1] == (pressed, pressed[1:], 1.0)


def test_a_button_offered_earlier_in_the_conversation_still_works(widget: Chat, assistant: Assistant) -> None:
    sender = uuid.uuid4().hex
    greeting = customs(widget(sender, "/greet"))  # what the widget sends when it opens
    starters = [b["payload"] for reply in greeting for b in reply.get("buttons", [])]
    assert starters == [payload_for(answer) for answer in KNOWLEDGE.starters]
    widget(sender, "how long is recovery?")  # offers other questions
    replies = customs(widget(sender, starters[0]))  # a starter button, still on the page
    assert replies[0]["kind"] == "answer"
    turns = stored_user_turns(assistant, sender)
    assert [(text, confidence) for text, _, confidence in (turns[0], turns[2])] == [
        ("/greet", 1.0),
        (starters[0], 1.0),
    ]


def test_the_opening_greet_counts_only_before_the_patient_has_written(
    widget: Chat, assistant: Assistant
) -> None:
    sender = uuid.uuid4().hex
    widget(sender, "hello")
    widget(sender, "/greet")
    assert [text for text, _, _ in stored_user_turns(assistant, sender)] == ["hello", "greet"]


@pytest.mark.parametrize(
    "message", ["/thank{ chest pain", "/greet@ I can't breathe", "/greet I can't breathe"]
)
def test_red_flags_behind_a_slash_get_the_emergency_reply(widget: Chat, message: str) -> None:
    sender = uuid.uuid4().hex
    widget(sender, "/greet")  # the greeting offers buttons: none of them is this text
    assert customs(widget(sender, message))[0]["kind"] == "emergency"


def test_on_telegram_a_typed_payload_is_text_and_a_pressed_button_a_payload(
    assistant: Assistant, fake_platform: Any
) -> None:
    chat_id = new_chat_id()
    [first] = send(assistant, fake_platform, message_update(chat_id, "what is kyphoplasty"))
    button = first["reply_markup"]["inline_keyboard"][0][0]
    offered = {row[0]["callback_data"] for row in first["reply_markup"]["inline_keyboard"]}
    typed = next(payload_for(a) for a in KNOWLEDGE.answers.values() if payload_for(a) not in offered)
    send(assistant, fake_platform, message_update(chat_id, typed))
    send(assistant, fake_platform, button_press(chat_id, button["callback_data"], first))  # 2 turns back
    turns = stored_user_turns(assistant, f"telegram:{chat_id}")
    assert turns[1][0] == typed[1:]
    assert turns[2] == (button["callback_data"], button["callback_data"][1:].split("{")[0], 1.0)
