"""Answering from the article, and the follow-ups on the last answer."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answerability import asks_about_condition_itself, missing_detail
from actions.clinic import load_clinic
from actions.knowledge import Answer, Knowledge, Sentence, Topic, load_knowledge
from actions.replies import fill, menu_reply, not_covered_reply, reply_text, utter
from actions.reply import Reply, buttons_for, evidence, new_reply, reference_list

CANDIDACY = "am_i_a_candidate"
CONDITIONS = "conditions_treated"
PROCEDURE_ENTITY = "procedure"  # the entity ruler's name for kyphoplasty and its other names
RELATED_BUTTONS = 2


# "Fracture" names the injury every condition leads to; another condition named with it says more.
GENERIC_CONDITION = "compression_fracture"
# "Is it only for thin bones, or other problems too?" asks for the list beside the condition named.
BEYOND_CONDITION = re.compile(r"\b(other|others|else|only|also|too|as well)\b", re.IGNORECASE)
# "What does it treat besides osteoporosis?" asks for the list without the condition named.
BESIDES_CONDITION = re.compile(r"\b(besides|apart from|aside from|except|other than)\b", re.IGNORECASE)
# "Can it help with that?", "is that something it treats?" after "mum has myeloma" asks about the
# condition named earlier.
REFERS_BACK = re.compile(
    r"\b(with|for) (that|this|those|these|it)\b|\b(her|his|my|that|this) condition\b"
    r"|^\W*(is|are|would|could|can|does|do|will)\s+(that|this|those|these)\s+(something|the\s+(kind|sort|type)"
    r"\s+of|a\s+thing|what|one|treatable|covered|included|on\s+the\s+list)\b"
    r"|\b(that|this)\s+(be|get)\s+(treated|helped|fixed|done)\b",
    re.IGNORECASE,
)


def message_condition(tracker: Tracker) -> Optional[str]:
    """The condition the latest message names (a specific one before the generic fracture), or
    None, also when it names it only to set it aside (BESIDES_CONDITION)."""
    if BESIDES_CONDITION.search(tracker.latest_message.get("text") or ""):
        return None
    named = list(dict.fromkeys(tracker.get_latest_entity_values("condition")))
    specific = [condition for condition in named if condition != GENERIC_CONDITION]
    return (specific or named or [None])[0]


def condition_referred_back(tracker: Tracker) -> Optional[str]:
    """The condition named earlier in the conversation (the `condition` slot) when the latest
    message refers back to it (REFERS_BACK), else None."""
    referred = REFERS_BACK.search(tracker.latest_message.get("text") or "")
    return tracker.get_slot("condition") if referred else None


def choose_answers(intent: str, tracker: Tracker, knowledge: Knowledge) -> List[Answer]:
    """The answers to the latest question: condition-aware for conditions and candidacy.

    "Can it help osteoporosis?" gets the answer about osteoporosis; a fracture alone (what every
    listed condition leads to), or a question beyond the condition named ("only osteoporosis, or
    other things too?"), gets that answer and the whole list, one besides it ("what else besides
    osteoporosis?") the list alone; "am I a candidate?" gets
    how candidacy is decided first, then what the article says of the condition named. A condition
    named earlier in the conversation counts for candidacy, and for a condition question that
    refers back to it ("can it help with that?").
    """
    if intent == CONDITIONS:
        condition = message_condition(tracker) or condition_referred_back(tracker)
    elif intent == CANDIDACY:
        condition = message_condition(tracker) or tracker.get_slot("condition")
    else:
        condition = None
    about_condition = knowledge.answer_for_condition(condition) if condition else None
    if about_condition is None:
        return [knowledge.answers[intent]]
    if intent == CONDITIONS:
        asks_beyond = BEYOND_CONDITION.search(tracker.latest_message.get("text") or "")
        return (
            [about_condition]
            if condition != GENERIC_CONDITION and not asks_beyond
            else [about_condition, knowledge.answers[intent]]
        )
    return [knowledge.answers[intent], about_condition]


def evidence_of(answers: Sequence[Answer]) -> List[Sentence]:
    """The answers' evidence in order, each sentence once."""
    return list(dict.fromkeys(sentence for answer in answers for sentence in answer.evidence))


def missing_detail_reply(question: str, answers: Sequence[Answer], quoted: int = 0) -> Optional[Reply]:
    """For a question that asks for a detail none of `answers` gives (a number, a name or date, a
    degree, a comparison, whether for everyone: actions/answerability.py's DETAILS): the article
    does not say, and the sentences of the first `quoted` answers (all if 0) are quoted as what
    is nearby; else None."""
    detail = missing_detail(question, answers)
    if detail is None:
        return None
    nearby = tuple(evidence_of(answers[:quoted] if quoted else answers))
    return not_covered_reply(Topic(detail.name, detail.question, reply_text(detail.reply), nearby))


def procedure_named(tracker: Tracker) -> bool:
    """Whether the latest message names the procedure (a PROCEDURE_ENTITY entity)."""
    return next(tracker.get_latest_entity_values(PROCEDURE_ENTITY), None) is not None


def condition_itself_reply(tracker: Tracker, knowledge: Knowledge) -> Optional[Reply]:
    """The reply to a question about a condition itself ("is myeloma curable these days?",
    actions/answerability.py): the article does not say, and what it does say of the condition
    (its answer's sentences) is quoted; None for any other message."""
    text = str(tracker.latest_message.get("text") or "")
    conditions = list(tracker.get_latest_entity_values("condition"))
    if not asks_about_condition_itself(text, conditions, procedure_named(tracker)):
        return None
    named = [knowledge.answer_for_condition(condition) for condition in conditions]
    nearby = tuple(evidence_of([answer for answer in named if answer is not None]))
    topic = Topic("condition_itself", "About the condition itself", reply_text("condition_itself"), nearby)
    return not_covered_reply(topic)


def answer_reply(answers: Sequence[Answer], buttons: List[Dict[str, str]]) -> Reply:
    """The `answer` reply: the answers' texts, their evidence quoted, their ids in `answer_ids`."""
    return new_reply(
        "answer",
        " ".join(fill(answer.text) for answer in answers),
        buttons=buttons,
        answer_ids=[answer.id for answer in answers],
        **evidence(evidence_of(answers), load_knowledge(), load_clinic()),
    )


def answer_with_related(answers: Sequence[Answer]) -> Reply:
    """The `answer` reply for these answers, offering their related answers as buttons."""
    knowledge = load_knowledge()
    shown = {answer.id for answer in answers}
    related = [
        knowledge.answers[answer_id]
        for answer_id in dict.fromkeys(r for answer in answers for r in answer.related)
        if answer_id not in shown
    ]
    return answer_reply(answers, buttons_for(related[:RELATED_BUTTONS]))


def utter_answers(
    dispatcher: CollectingDispatcher, tracker: Tracker, answers: List[Answer]
) -> List[EventType]:
    """Sends the answers, offering their related answers, and remembers them for follow-ups."""
    utter(dispatcher, tracker, answer_with_related(answers))
    return [SlotSet("last_answers", [answer.id for answer in answers])]


def last_answers(tracker: Tracker, knowledge: Knowledge) -> List[Answer]:
    return [knowledge.answers[i] for i in tracker.get_slot("last_answers") or [] if i in knowledge.answers]


class ActionAnswer(Action):
    def name(self) -> str:
        return "action_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        knowledge = load_knowledge()
        about_condition = condition_itself_reply(tracker, knowledge)
        if about_condition is not None:
            utter(dispatcher, tracker, about_condition)
            return []
        answers = choose_answers(tracker.get_intent_of_latest_message(), tracker, knowledge)
        missing = missing_detail_reply(str(tracker.latest_message.get("text") or ""), answers)
        if missing is not None:
            utter(dispatcher, tracker, missing)
            return []
        return utter_answers(dispatcher, tracker, answers)


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
            utter(dispatcher, tracker, menu_reply())
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
            reply = new_reply(
                "sources",
                "My last answer rests on these sentences of the clinic's article.",
                **evidence(evidence_of(previous), knowledge, clinic),
            )
        else:
            reply = new_reply(
                "sources",
                f"Everything I say comes from the article “{clinic.article_title}” by {clinic.name}: "
                f"{clinic.article_url}. I quote its sentences word for word.",
                references=reference_list(knowledge.references.values()),
            )
        utter(dispatcher, tracker, reply)
        return []
