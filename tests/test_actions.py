"""The custom actions, run as the action server runs them, on hand-built trackers."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional, Tuple

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answers import ActionAnswer, ActionShowSources, ActionTellMeMore
from actions.clinic import load_clinic
from actions.guidance import ActionClarify, ActionDecline, ActionOfferQuestions
from actions.knowledge import load_knowledge
from actions.red_flag import ActionRedFlag
from actions.session import ActionSessionStart

KNOWLEDGE = load_knowledge()
CLINIC = load_clinic()


def tracker(
    intent: str,
    entities: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
    ranking: Optional[List[Dict[str, Any]]] = None,
    channel: str = "rest",
) -> Tracker:
    message = {
        "text": "...",
        "intent": {"name": intent, "confidence": 1.0},
        "entities": entities or [],
        "intent_ranking": ranking or [{"name": intent, "confidence": 1.0}],
    }
    events = [{"event": "user", "text": "...", "input_channel": channel, "parse_data": message}]
    return Tracker("patient", slots or {}, message, events, False, None, {}, "action_listen")


def unclear(*ranked: Tuple[str, float]) -> List[Dict[str, Any]]:
    """An intent ranking under the fallback threshold, as the FallbackClassifier leaves it."""
    return [{"name": "nlu_fallback", "confidence": 0.45}] + [{"name": n, "confidence": c} for n, c in ranked]


def run(action: Action, state: Tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, state, {}))
    return dispatcher.messages, events


def texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def button_titles(messages: List[Dict[str, Any]]) -> List[str]:
    return [b["title"] for m in messages for b in m.get("buttons", [])]


@pytest.mark.parametrize("intent", [a.id for a in KNOWLEDGE.answers.values() if not a.conditions])
def test_each_question_gets_its_answer_with_quotes_and_references(intent: str) -> None:
    answer = KNOWLEDGE.answers[intent]
    messages, events = run(ActionAnswer(), tracker(intent))
    (message,) = messages
    assert message["text"].startswith(answer.text.format(**CLINIC.template_values()))
    for sentence in answer.evidence:
        assert f"“{sentence.text}”" in message["text"]
    for number in answer.reference_numbers:
        assert KNOWLEDGE.references[number].url in message["text"]
    assert 1 <= len(message["buttons"]) <= 2
    assert events == [SlotSet("last_answers", [intent])]


def test_a_named_condition_gets_the_answer_about_it() -> None:
    state = tracker("conditions_treated", entities=[{"entity": "condition", "value": "multiple_myeloma"}])
    messages, events = run(ActionAnswer(), state)
    assert "Cancer, including multiple myeloma [6]" in texts(messages)
    assert events == [SlotSet("last_answers", ["condition_cancer"])]


def test_a_specific_condition_wins_over_the_fracture_it_caused() -> None:
    entities = [
        {"entity": "condition", "value": "compression_fracture"},
        {"entity": "condition", "value": "trauma"},
    ]
    _, events = run(ActionAnswer(), tracker("conditions_treated", entities=entities))
    assert events == [SlotSet("last_answers", ["condition_trauma"])]


def test_a_condition_not_in_the_article_gets_the_list_of_conditions() -> None:
    messages, _ = run(ActionAnswer(), tracker("conditions_treated"))
    assert "If your problem is not on this list, the article does not cover it." in texts(messages)


def test_can_it_help_me_uses_the_condition_named_earlier() -> None:
    state = tracker("am_i_a_candidate", slots={"condition": "osteoporosis"})
    messages, events = run(ActionAnswer(), state)
    text = texts(messages)
    assert "Osteoporosis is on the article's list" in text
    assert "Your doctor decides." in text
    assert events == [SlotSet("last_answers", ["condition_osteoporosis", "am_i_a_candidate"])]


def test_tell_me_more_continues_with_a_related_answer() -> None:
    messages, events = run(
        ActionTellMeMore(), tracker("tell_me_more", slots={"last_answers": ["what_is_kyphoplasty"]})
    )
    assert events == [SlotSet("last_answers", ["how_it_is_done"])]
    assert "Step 1" in texts(messages)


def test_tell_me_more_without_an_answer_offers_questions() -> None:
    messages, events = run(ActionTellMeMore(), tracker("tell_me_more"))
    assert events == []
    assert button_titles(messages) == [a.question for a in KNOWLEDGE.starters]


def test_where_is_that_from_shows_the_last_answers_sentences_and_references() -> None:
    state = tracker("ask_sources", slots={"last_answers": ["pain_relief"]})
    messages, _ = run(ActionShowSources(), state)
    text = texts(messages)
    for sentence in KNOWLEDGE.answers["pain_relief"].evidence:
        assert sentence.text in text
    assert KNOWLEDGE.references[7].url in text


def test_where_does_this_come_from_without_an_answer_lists_the_article_and_all_references() -> None:
    messages, _ = run(ActionShowSources(), tracker("ask_sources"))
    text = texts(messages)
    assert CLINIC.article_url in text
    assert all(reference.url in text for reference in KNOWLEDGE.references.values())


def test_unclear_message_offers_the_likeliest_questions() -> None:
    ranking = unclear(("sedation", 0.41), ("pain_relief", 0.2), ("greet", 0.2), ("recovery", 0.05))
    messages, _ = run(ActionClarify(), tracker("nlu_fallback", ranking=ranking))
    assert "Did you mean" in texts(messages)
    assert button_titles(messages) == [
        KNOWLEDGE.answers["sedation"].question,
        KNOWLEDGE.answers["pain_relief"].question,
    ]


def test_unclear_condition_question_naming_a_condition_is_answered() -> None:
    ranking = unclear(("conditions_treated", 0.4), ("out_of_scope", 0.33))
    entities = [{"entity": "condition", "value": "compression_fracture"}]
    messages, events = run(ActionClarify(), tracker("nlu_fallback", entities=entities, ranking=ranking))
    assert "“Vertebral compression fractures [5]”" in texts(messages)
    assert events == [SlotSet("last_answers", ["condition_compression_fracture"])]


def test_unclear_message_naming_a_condition_offers_that_conditions_answer_first() -> None:
    ranking = unclear(("pain_relief", 0.3), ("am_i_a_candidate", 0.25))
    entities = [{"entity": "condition", "value": "spinal_tumor"}]
    messages, _ = run(ActionClarify(), tracker("nlu_fallback", entities=entities, ranking=ranking))
    assert button_titles(messages) == [
        KNOWLEDGE.answers["condition_spinal_tumor"].question,
        KNOWLEDGE.answers["pain_relief"].question,
        KNOWLEDGE.answers["am_i_a_candidate"].question,
    ]


@pytest.mark.parametrize(
    "ranking",
    [
        unclear(("out_of_scope", 0.3), ("recovery", 0.2)),
        unclear(("greet", 0.5), ("recovery", 0.05)),
    ],
)
def test_unclear_message_that_is_likelier_not_covered_is_declined(ranking) -> None:
    messages, _ = run(ActionClarify(), tracker("nlu_fallback", ranking=ranking))
    assert "does not cover that" in texts(messages)
    assert CLINIC.phone in texts(messages)


def test_declining_says_so_points_to_the_clinic_and_offers_questions() -> None:
    messages, _ = run(ActionDecline(), tracker("out_of_scope"))
    assert "article does not cover that" in texts(messages)
    assert CLINIC.phone in texts(messages)
    assert button_titles(messages) == [a.question for a in KNOWLEDGE.starters]


def test_offer_questions_shows_the_starters() -> None:
    messages, _ = run(ActionOfferQuestions(), tracker("greet"))
    assert button_titles(messages) == [a.question for a in KNOWLEDGE.starters]


@pytest.mark.parametrize(
    "kind, number",
    [
        ("legs", "911"),
        ("bladder_bowel", "911"),
        ("chest_pain", "911"),
        ("breathing", "911"),
        ("wound_infection", CLINIC.phone),
        ("self_harm", "988"),
    ],
)
def test_each_red_flag_gets_its_emergency_instruction_and_nothing_else(kind: str, number: str) -> None:
    messages, events = run(
        ActionRedFlag(), tracker("red_flag", entities=[{"entity": "red_flag", "value": kind}])
    )
    (message,) = messages
    assert number in message["text"]
    assert "buttons" not in message or not message["buttons"]
    assert events == []


def test_suicidal_thoughts_come_first_when_several_red_flags() -> None:
    entities = [{"entity": "red_flag", "value": "legs"}, {"entity": "red_flag", "value": "self_harm"}]
    messages, _ = run(ActionRedFlag(), tracker("red_flag", entities=entities))
    assert "988" in messages[0]["text"] and "911" in messages[1]["text"]


def test_red_flag_intent_without_a_detected_kind_still_sends_to_emergency_care() -> None:
    messages, _ = run(ActionRedFlag(), tracker("red_flag"))
    assert "911" in messages[0]["text"] and "988" in messages[0]["text"]


def test_session_start_fills_clinic_settings_and_keeps_the_condition() -> None:
    _, events = run(
        ActionSessionStart(), tracker("greet", slots={"condition": "trauma", "clinic_phone": "old"})
    )
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["condition"] == "trauma"
    assert slots["clinic_phone"] == CLINIC.phone
    assert slots["emergency_number"] == "911"
    assert events[0]["event"] == "session_started"
    assert events[-1]["event"] == "action" and events[-1]["name"] == "action_listen"


def test_clinic_settings_can_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("CLINIC_PHONE", "(555) 123-4567")
    load_clinic.cache_clear()
    try:
        assert load_clinic().phone == "(555) 123-4567"
    finally:
        load_clinic.cache_clear()


def test_the_widget_gets_the_answer_as_structure() -> None:
    (message,), _ = run(ActionAnswer(), tracker("pain_relief", channel="widget"))
    payload = message["custom"]
    answer = KNOWLEDGE.answers["pain_relief"]
    assert "text" not in message or message["text"] is None
    assert payload["kind"] == "answer"
    assert payload["text"] == answer.text
    assert [q["text"] for q in payload["quotes"]] == [s.text for s in answer.evidence]
    assert [r["number"] for r in payload["references"]] == list(answer.reference_numbers)
    assert payload["references"][0]["url"] == KNOWLEDGE.references[7].url
    assert payload["article"]["url"] == CLINIC.article_url  # how-it-works-5 carries no reference
    assert [b["payload"] for b in payload["buttons"]] == ["/recovery", "/less_medication"]


def test_the_widget_gets_emergencies_with_numbers_to_call() -> None:
    entities = [{"entity": "red_flag", "value": "self_harm"}]
    (message,), _ = run(ActionRedFlag(), tracker("red_flag", entities=entities, channel="widget"))
    payload = message["custom"]
    assert payload["kind"] == "emergency"
    assert "988" in payload["text"]
    assert payload["call"] == [{"number": "988", "tel": "988"}, {"number": "911", "tel": "911"}]
