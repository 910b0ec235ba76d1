"""Chats with the real servers over HTTP, as the website and the messaging channels do.

Only the intents of the trained model are asked for here; the replies of newer kinds are tested
on hand-built trackers (tests/test_actions.py) and in the browser with fixed replies.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any, Dict, List

import pytest

from actions.clinic import load_clinic
from actions.knowledge import load_knowledge
from channels.message_guard import MAX_MESSAGE_CHARS
from channels.text_output import render_text
from evaluation.dialogue_cases import Chat, widget_chat
from evaluation.servers import MAX_BODY_BYTES, Assistant
from nlu_components.paths import PROJECT_ROOT

KNOWLEDGE = load_knowledge()
CLINIC = load_clinic()


@pytest.fixture(scope="module")
def widget(assistant: Assistant) -> Chat:
    return widget_chat(assistant.base_url)


def new_sender() -> str:
    return uuid.uuid4().hex


def text_of(messages: List[Dict[str, Any]]) -> str:
    return "\n\n".join(m.get("text", "") for m in messages)


def answer_start(answer_id: str) -> str:
    return KNOWLEDGE.answers[answer_id].text.format(**CLINIC.template_values())


def assert_answered_with(messages: List[Dict[str, Any]], answer_id: str) -> None:
    text = text_of(messages)
    assert answer_start(answer_id) in text
    assert "From the article:" in text
    for sentence in KNOWLEDGE.answers[answer_id].evidence:
        assert f"“{sentence.text}”" in text
    assert "Sources:" in text


def test_health(assistant: Assistant) -> None:
    import requests

    assert requests.get(f"{assistant.base_url}/webhooks/rest/", timeout=10).json() == {"status": "ok"}


def test_a_question_gets_the_answer_with_quotes_references_and_suggestions(assistant: Assistant) -> None:
    messages = assistant.chat(new_sender(), "what is kyphoplasty?")
    assert_answered_with(messages, "what_is_kyphoplasty")
    assert KNOWLEDGE.references[2].url in text_of(messages)
    assert any(m.get("buttons") for m in messages)


def test_the_widget_gets_the_reply_as_structure_and_rest_gets_it_rendered_as_text(
    assistant: Assistant, widget: Chat
) -> None:
    (message,) = widget(new_sender(), "what is kyphoplasty?")
    reply = message["custom"]
    assert reply["kind"] == "answer" and reply["answer_ids"] == ["what_is_kyphoplasty"]
    sender = new_sender()
    assert assistant.chat(sender, "what is kyphoplasty?") == [
        {"recipient_id": sender, **rendered} for rendered in render_text(reply)
    ]


def test_greeting_introduces_an_automated_assistant_and_offers_questions(assistant: Assistant) -> None:
    messages = assistant.chat(new_sender(), "hello")
    assert CLINIC.name in text_of(messages)
    assert "not a doctor" in text_of(messages)
    titles = [b["title"] for m in messages for b in m.get("buttons", [])]
    assert titles == [a.question for a in KNOWLEDGE.starters]


def test_a_condition_named_earlier_answers_can_it_help_me(assistant: Assistant) -> None:
    sender = new_sender()
    assert_answered_with(
        assistant.chat(sender, "dad was just diagnosed with multiple myeloma, is kyphoplasty used for that?"),
        "condition_cancer",
    )
    messages = assistant.chat(sender, "can it help him?")
    assert_answered_with(messages, "condition_cancer")
    assert answer_start("am_i_a_candidate") in text_of(messages)


def test_follow_ups_tell_me_more_and_where_is_that_from(assistant: Assistant) -> None:
    sender = new_sender()
    assistant.chat(sender, "how is the procedure done")
    assert_answered_with(assistant.chat(sender, "tell me more"), "sedation")
    sources = text_of(assistant.chat(sender, "where is that from?"))
    assert (
        "“You’ll receive medication to relax you or put you to sleep before starting the procedure.”"
        in sources
    )


def test_and_the_recovery_after_another_answer(assistant: Assistant) -> None:
    sender = new_sender()
    assistant.chat(sender, "what are the benefits")
    assert_answered_with(assistant.chat(sender, "and the recovery?"), "recovery")


@pytest.mark.parametrize(
    "question",
    [
        "how much does kyphoplasty cost",
        "can I drive after the procedure",
        "should I stop my blood thinner before",
    ],
)
def test_questions_the_article_does_not_answer_are_declined(
    assistant: Assistant, widget: Chat, question: str
) -> None:
    (message,) = widget(new_sender(), question)
    reply = message["custom"]
    assert reply["kind"] in {"decline", "not_covered"}  # not_covered once the model knows the topics
    assert reply["call"][0]["number"] == CLINIC.phone
    assert reply["buttons"]
    messages = assistant.chat(new_sender(), question)
    assert CLINIC.phone in text_of(messages)
    assert messages[-1]["buttons"] == reply["buttons"]


def test_red_flags_come_first_and_alone(assistant: Assistant) -> None:
    messages = assistant.chat(new_sender(), "How long is recovery? Since yesterday I can't feel my legs.")
    assert messages[0]["text"].startswith("EMERGENCY")
    assert CLINIC.emergency_number in messages[0]["text"]
    assert "From the article:" not in text_of(messages)


def test_thoughts_of_self_harm_get_the_crisis_line(assistant: Assistant) -> None:
    messages = assistant.chat(new_sender(), "the pain is too much, i want to end my life")
    assert CLINIC.crisis_line in messages[0]["text"]


@pytest.mark.parametrize("message", ["", "   ", "\n\t"])
def test_empty_messages_get_a_clear_reply(assistant: Assistant, message: str) -> None:
    (reply,) = assistant.chat(new_sender(), message)
    assert "didn't get a message" in reply["text"]


def test_a_long_message_is_refused_before_nlu_and_the_conversation_goes_on(assistant: Assistant) -> None:
    sender = new_sender()
    (reply,) = assistant.chat(sender, "my back hurts " * (MAX_MESSAGE_CHARS // 10))
    assert "too long" in reply["text"] and CLINIC.emergency_number in reply["text"]
    assert_answered_with(assistant.chat(sender, "what is kyphoplasty"), "what_is_kyphoplasty")


def test_a_long_conversation_keeps_working(assistant: Assistant) -> None:
    # The tracker sent to the action server grows with every turn: no body limit may cut it off.
    sender = new_sender()
    for _ in range(30):
        assert_answered_with(assistant.chat(sender, "how long is the recovery"), "recovery")


def test_a_one_megabyte_message_is_refused_with_413(assistant: Assistant) -> None:
    response = assistant.post(json={"sender": new_sender(), "message": "a" * 1_000_000})
    assert response.status_code == 413
    assert MAX_BODY_BYTES < 1_000_000


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"{not json", "application/json"),
        (b"\xff\xfe\x00\x01binary", "application/octet-stream"),
        (b'["a list"]', "application/json"),
        (b'{"message": "hi"}', "application/json"),
        (b'{"sender": "../../etc/passwd", "message": "hi"}', "application/json"),
        (b'{"sender": "me", "message": 42}', "application/json"),
        (b'{"sender": "default", "message": "hi"}', "application/json"),
        (b'{"sender": "+15550123456", "message": "hi"}', "application/json"),
        (b'{"sender": "0123456789abcdef012345", "message": "hi"}', "application/json"),  # 88 bits
        (b'{"sender": "0123456789abcdef0123456789abcdef\\n", "message": "hi"}', "application/json"),
        (b'{"sender": "me", "message": "hi", "metadata": "x"}', "application/json"),
    ],
)
def test_malformed_requests_get_a_400_with_a_reason(
    assistant: Assistant, body: bytes, content_type: str
) -> None:
    response = assistant.post(data=body, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert response.json()["error"]


@pytest.mark.parametrize(
    "message",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "😀😀😀",
        "👨\u200d👩\u200d👧 what is it",
        "¿Qué es la cifoplastia?",
        "\x00\x07\x1b[31m",
        "is it safe \ud83d",
        "is\u200b it\ufffd safe\u00ad?",
        "\u202eti si tahw",
        "Ｉｓ ｉｔ ｓａｆｅ？",
    ],
)
def test_hostile_or_odd_input_gets_a_plain_reply_that_never_echoes_markup(
    assistant: Assistant, message: str
) -> None:
    sender = new_sender()
    messages = assistant.chat(sender, message)
    assert messages
    text = text_of(messages)
    assert "<" not in text and "\x00" not in text
    assert_answered_with(assistant.chat(sender, "how long is the recovery"), "recovery")


def test_the_terminal_chat_client_talks_to_the_server(assistant: Assistant) -> None:
    port = assistant.base_url.rsplit(":", 1)[1]
    finished = subprocess.run(
        [sys.executable, "-m", "scripts.chat", "--port", port],
        input="what is kyphoplasty\n1\n\n",
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
        check=True,
    )
    assert "bot> Kyphoplasty is a procedure" in finished.stdout
    assert "bot> Step 1" in finished.stdout  # button 1 after the first answer: how it is done
