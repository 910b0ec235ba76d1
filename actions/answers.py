"""Answering from the article, and the follow-ups on the last answer."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.clinic import load_clinic
from actions.knowledge import Answer, Knowledge, load_knowledge
from actions.rendering import (
    STRUCTURED_CHANNELS,
    answer_payload,
    buttons_for,
    evidence_of,
    format_reference,
    render_answers,
    render_evidence,
    render_sources,
)
from actions.replies import utter_with_starter_questions

CANDIDACY = "am_i_a_candidate"
CONDITIONS = "conditions_treated"
RELATED_BUTTONS = 2


# "Fracture" names the injury every condition leads to; another condition named with it says more.
GENERIC_CONDITION = "compression_fracture"


def message_condition(tracker: Tracker) -> Optional[str]:
    named = list(dict.fromkeys(tracker.get_latest_entity_values("condition")))
    specific = [condition for condition in named if condition != GENERIC_CONDITION]
    return (specific or named or [None])[0]


def choose_answers(intent: str, tracker: Tracker, knowledge: Knowledge) -> List[Answer]:
    """The answers to the latest question: condition-aware for conditions and candidacy."""
    if intent == CONDITIONS:
        condition = message_condition(tracker)
    elif intent == CANDIDACY:
        condition = message_condition(tracker) or tracker.get_slot("condition")
    else:
        condition = None
    about_condition = knowledge.answer_for_condition(condition) if condition else None
    if intent == CONDITIONS and about_condition:
        return [about_condition]
    if about_condition:
        return [about_condition, knowledge.answers[intent]]
    return [knowledge.answers[intent]]


def utter_answers(
    dispatcher: CollectingDispatcher, tracker: Tracker, answers: List[Answer]
) -> List[EventType]:
    knowledge, clinic = load_knowledge(), load_clinic()
    shown = {answer.id for answer in answers}
    related = [
        knowledge.answers[answer_id]
        for answer_id in dict.fromkeys(r for answer in answers for r in answer.related)
        if answer_id not in shown
    ]
    buttons = buttons_for(related[:RELATED_BUTTONS])
    if tracker.get_latest_input_channel() in STRUCTURED_CHANNELS:
        dispatcher.utter_message(json_message=answer_payload(answers, knowledge, clinic, buttons))
    else:
        dispatcher.utter_message(text=render_answers(answers, knowledge, clinic), buttons=buttons)
    return [SlotSet("last_answers", [answer.id for answer in answers])]


def last_answers(tracker: Tracker, knowledge: Knowledge) -> List[Answer]:
    return [knowledge.answers[i] for i in tracker.get_slot("last_answers") or [] if i in knowledge.answers]


class ActionAnswer(Action):
    def name(self) -> str:
        return "action_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        intent = tracker.get_intent_of_latest_message()
        return utter_answers(dispatcher, tracker, choose_answers(intent, tracker, load_knowledge()))


class ActionTellMeMore(Action):
    """Continues with the first related answer not just given."""

    def name(self) -> str:
        return "action_tell_me_more"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        knowledge = load_knowledge()
        previous = last_answers(tracker, knowledge)
        shown = {answer.id for answer in previous}
        following = next((r for a in previous for r in a.related if r not in shown), None)
        if following is None:
            utter_with_starter_questions(dispatcher, "offer_questions")
            return []
        return utter_answers(dispatcher, tracker, [knowledge.answers[following]])


class ActionShowSources(Action):
    """The sentences and references of the last answer, or the whole article's references."""

    def name(self) -> str:
        return "action_show_sources"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        knowledge, clinic = load_knowledge(), load_clinic()
        previous = last_answers(tracker, knowledge)
        if previous:
            evidence = evidence_of(previous)
            parts = [
                "My last answer rests on these sentences of the clinic's article.",
                render_evidence(evidence),
                render_sources(evidence, knowledge, clinic),
            ]
        else:
            parts = [
                f"Everything I say comes from the article “{clinic.article_title}” by {clinic.name}: "
                f"{clinic.article_url}. I quote its sentences word for word.",
                "The article cites these sources:\n"
                + "\n".join(format_reference(r) for r in knowledge.references.values()),
            ]
        dispatcher.utter_message(text="\n\n".join(parts))
        return []
