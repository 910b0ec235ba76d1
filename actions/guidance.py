"""What the assistant says when it cannot answer: offer questions, decline, or ask which was meant."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.answerability import POINTING_WORDS, asks_if_something_else_helps
from actions.answers import (
    CANDIDACY,
    CONDITIONS,
    GENERIC_CONDITION,
    PROCEDURE_ENTITY,
    choose_answers,
    condition_itself_reply,
    condition_referred_back,
    message_condition,
    missing_detail_reply,
    procedure_named,
    utter_answers,
)
from actions.clinic import load_clinic
from actions.knowledge import Answer, Knowledge, load_knowledge
from actions.replies import menu_reply, not_covered_reply, reply_text, utter, with_starter_questions
from actions.reply import Reply, buttons_for, new_reply

OUT_OF_SCOPE = "out_of_scope"
# The not-covered topic of other treatments (knowledge/not_covered.yml).
ALTERNATIVES = "alternatives"
CONDITION_INTENTS = (CONDITIONS, CANDIDACY)
MAX_CHOICES = 3
# A named condition is offered when a condition question is among this many likeliest intents.
CONDITION_RANKS = 3
# Below this, an intent is too unlikely to offer as "did you mean ...?".
MIN_CHOICE_CONFIDENCE = 0.1
# An unclear message is declined when the classifier finds it this many times likelier not covered
# (out of scope and the not-covered topics together) than its likeliest answer. Chosen on
# tests/patient_questions/tuning.yml with two models: before the 667 examples of 2026-11-30,
# 1.1-1.3 declined 2 more uncovered questions and 1.5 one, losing no covered one; after them, 1.2
# lost a covered one ("what the tamp thing is": 1.34) and declined no more. Offering costs a covered
# question less than declining it, so the higher one.
DECLINE_ODDS = 1.5
# An intent at least this likely (0..1) is likelier than all the others together.
LIKELIER_THAN_THE_REST = 0.5
# The intents of an unclear message's nearest training examples, with their similarity-weighted
# shares (nlu_components/answerability.py writes them into the parse data under this key).
NEAREST_EXAMPLES = "nearest_examples"
# An unclear message whose nearest examples are at least this share questions the article does
# not answer is declined as the likeliest of them ("will I feel the needle going in?": anaesthesia
# questions 0.81). Chosen on tests/patient_questions/tuning.yml: from 5 to 30 neighbours and 0.4 to
# 0.6, no covered question was declined; 0.5 is the middle.
NEAREST_UNCOVERED_SHARE = 0.5
# One whose nearest examples are at least this share one answer's questions is offered that answer
# when it would otherwise be declined (DIET: "what is the balloon for?" a detail of the procedure
# 0.58; its nearest examples: the balloon answer's, 0.81). Chosen on the tuning part: 4 covered
# questions offered (0.80-1.0), no uncovered one (the nearest: 0.70, "is a dexa scan an xray").
NEAREST_ANSWER_SHARE = 0.75
# How likely an unclear message is a question the article does not answer, from a logistic
# regression on sentence features (nlu_components/answerability.py writes it under this key).
UNCOVERED_PROBABILITY = "uncovered_probability"
# At least this likely, it is declined as the likeliest uncovered intent, under the same
# exceptions as the nearest examples' vote ("I get that they put cement in... what brand of cement
# do they use though?": 0.93), and a condition it names no longer shields it when it names no
# procedure (general_condition_question). Chosen on tests/patient_questions/tuning.yml with the
# model it ships with (covered answered or offered / uncovered declined): without the scorer
# 0.9697 / 0.9804; from 0.8 0.9656 / 0.983; from 0.9 0.9683 / 0.983; from 0.95 0.9697 / 0.9817
# (the named-condition rule changed none of these; on the eleventh probe set it declined 2 more).
DECLINE_PROBABILITY = 0.9
# At most this likely, the nearest examples' majority answer is offered rather than declined
# ("would it straighten him up a bit?": DIET 0.43 unlisted conditions, 0.36 posture; the nearest
# examples 0.71 posture; uncovered probability 0.09). On the tuning part and the fifteenth to
# eighteenth probe sets (2,996 messages) it changed that reply only.
LIKELY_COVERED = 0.1


def ranking_without_fallback(tracker: Tracker) -> List[Dict[str, Any]]:
    return [r for r in tracker.latest_message.get("intent_ranking", []) if r["name"] != "nlu_fallback"]


def likelier_not_covered(ranking: List[Dict[str, Any]], knowledge: Knowledge) -> bool:
    """Whether the message is likelier not covered: its likeliest intent is out of scope or a topic
    the article does not cover, or those intents together are DECLINE_ODDS times as likely as
    its likeliest answer ("does it get rid of the cancer in the bone too?": the topics together
    0.36, the prevention answer 0.20). `ranking`: intent ranking entries ({"name", "confidence"})."""
    if not ranking:
        return True
    not_covered = {OUT_OF_SCOPE, *knowledge.topics}
    declined = sum(r["confidence"] for r in ranking if r["name"] in not_covered)
    answered = max((r["confidence"] for r in ranking if r["name"] in knowledge.answers), default=0.0)
    return ranking[0]["name"] in not_covered or declined >= DECLINE_ODDS * answered


def nearest_examples(tracker: Tracker) -> List[Dict[str, Any]]:
    """The latest message's nearest examples (`[{"name": str, "share": 0..1}]`), well-formed
    entries only: none for a message that skipped NLU or events posted in another shape."""
    nearest = tracker.latest_message.get(NEAREST_EXAMPLES)
    if not isinstance(nearest, list):
        return []
    return [
        n
        for n in nearest
        if isinstance(n, dict) and isinstance(n.get("name"), str) and isinstance(n.get("share"), (int, float))
    ]


def nearest_uncovered(tracker: Tracker, knowledge: Knowledge) -> Optional[str]:
    """The likeliest uncovered intent of the message's nearest examples, if together they hold
    NEAREST_UNCOVERED_SHARE of them, else None."""
    nearest = nearest_examples(tracker)
    uncovered = [n for n in nearest if n["name"] == OUT_OF_SCOPE or n["name"] in knowledge.topics]
    if uncovered and sum(n["share"] for n in uncovered) >= NEAREST_UNCOVERED_SHARE:
        return max(uncovered, key=lambda n: n["share"])["name"]
    return None


def uncovered_probability(tracker: Tracker) -> float:
    """The latest message's uncovered probability (0..1); 0.0 for a message without one (it
    skipped NLU, was confident, or came from a model trained before the scorer) or a malformed one."""
    probability = tracker.latest_message.get(UNCOVERED_PROBABILITY)
    if isinstance(probability, bool) or not isinstance(probability, (int, float)):
        return 0.0
    return float(probability) if 0.0 <= probability <= 1.0 else 0.0


def probably_uncovered(
    tracker: Tracker, ranking: List[Dict[str, Any]], knowledge: Knowledge
) -> Optional[str]:
    """The likeliest uncovered intent of `ranking` (out of scope if none is ranked) when the
    message is at least DECLINE_PROBABILITY likely a question the article does not answer, else None."""
    if uncovered_probability(tracker) < DECLINE_PROBABILITY:
        return None
    not_covered = {OUT_OF_SCOPE, *knowledge.topics}
    return next((r["name"] for r in ranking if r["name"] in not_covered), OUT_OF_SCOPE)


def general_condition_question(tracker: Tracker, top: Dict[str, Any], knowledge: Knowledge) -> bool:
    """Whether the message names no procedure, nor points at it (POINTING_WORDS), and is likely a
    question the article does not answer: at least DECLINE_PROBABILITY uncovered, or its
    likeliest intent `top` ({"name", "confidence"}) a not-covered topic likelier than all else.
    "What are the early signs of multiple myeloma" (0.96) and "does vitamin D help with
    osteoporosis" (osteoporosis medicines 0.64) ask about the condition they name, not about
    kyphoplasty for it."""
    named = {e.get("entity") for e in tracker.latest_message.get("entities", []) if isinstance(e, dict)}
    words = set(re.findall(r"[a-z]+", str(tracker.latest_message.get("text") or "").lower()))
    likeliest_topic = top["name"] in knowledge.topics and top["confidence"] >= LIKELIER_THAN_THE_REST
    likely_uncovered = likeliest_topic or uncovered_probability(tracker) >= DECLINE_PROBABILITY
    return PROCEDURE_ENTITY not in named and not words & POINTING_WORDS and likely_uncovered


def nearest_answer(tracker: Tracker, knowledge: Knowledge) -> Optional[str]:
    """The answer whose questions hold NEAREST_ANSWER_SHARE of the message's nearest examples, or
    most of them (LIKELIER_THAN_THE_REST) when the uncovered probability is at most LIKELY_COVERED."""
    likely_covered = (
        UNCOVERED_PROBABILITY in tracker.latest_message and uncovered_probability(tracker) <= LIKELY_COVERED
    )
    share = LIKELIER_THAN_THE_REST if likely_covered else NEAREST_ANSWER_SHARE
    nearest = nearest_examples(tracker)
    return next((n["name"] for n in nearest if n["name"] in knowledge.answers and n["share"] >= share), None)


def condition_question_with_its_condition(top: Dict[str, Any], tracker: Tracker) -> bool:
    """Whether the likeliest intent `top` ({"name", "confidence"}) is a condition question whose
    condition is known: named in the message (the entity ruler agrees with the classifier), or
    earlier in the conversation, for "is that something it treats?" (the message refers back to
    it) when the conditions question is likelier than all the other intents together, and for
    "is it right for my mum?" when candidacy is likelier than
    all the other intents together, or the likeliest and most of the nearest examples' too ("can
    it help him?": DIET 0.48, its nearest examples 0.62 candidacy questions); its answer says
    first that the doctor decides."""
    if top["name"] not in CONDITION_INTENTS:
        return False
    if message_condition(tracker):
        return True
    if top["name"] == CONDITIONS and condition_referred_back(tracker):  # "is that something it treats?"
        return top["confidence"] >= LIKELIER_THAN_THE_REST
    if top["name"] != CANDIDACY or not tracker.get_slot("condition"):
        return False
    neighbours = sum(n["share"] for n in nearest_examples(tracker) if n["name"] == CANDIDACY)
    return top["confidence"] >= LIKELIER_THAN_THE_REST or neighbours >= LIKELIER_THAN_THE_REST


def asks_about_named_condition(tracker: Tracker, ranking: List[Dict[str, Any]]) -> bool:
    """Whether the message names a condition and a condition question is among its CONDITION_RANKS
    likeliest intents (`ranking`), the likeliest for the generic fracture (nearly every patient
    names it: "ive got 3 fractured vertebrae, can they do all of them in one go?"): its
    condition's answer is offered, never declined."""
    named = set(tracker.get_latest_entity_values("condition"))  # also "besides osteoporosis"
    ranks = CONDITION_RANKS if named - {GENERIC_CONDITION} else 1
    return bool(named) and any(r["name"] in CONDITION_INTENTS for r in ranking[:ranks])


def likely_answers(tracker: Tracker, knowledge: Knowledge) -> List[Answer]:
    """The likeliest answers to an unclear message, or none if it is likelier not covered, unless
    it names a condition and a condition question is among the likeliest intents.

    A condition the message names is offered where the classifier ranks the first condition
    question likely enough to offer (else not at all): the patient said it, but "mum can barely
    walk with this fracture, will it help her get about?" asks about mobility first, and "she
    cracked a bone in a fall, how do we stop her falling?" asks nothing the article answers.
    """
    ranking = ranking_without_fallback(tracker)
    condition = message_condition(tracker)
    named = [knowledge.answer_for_condition(condition)] if condition else []
    if likelier_not_covered(ranking, knowledge) and not asks_about_named_condition(tracker, ranking):
        return []
    ranked: List[Answer] = []
    for r in ranking:
        if r["name"] in knowledge.answers and r["confidence"] >= MIN_CHOICE_CONFIDENCE:
            ranked += (named if r["name"] in CONDITION_INTENTS else []) + choose_answers(
                r["name"], tracker, knowledge
            )
    return list(dict.fromkeys(a for a in ranked if a is not None))[:MAX_CHOICES]


def decline_reply() -> Reply:
    """The `decline` reply: not in the article; the clinic's number; the starter questions."""
    return with_starter_questions("decline", reply_text("decline"), call=[load_clinic().phone])


def topic_reply(intent: Optional[str], knowledge: Knowledge) -> Reply:
    """An uncovered intent's reply: a topic's own (what the article does not say, and what it
    says nearby: more than a bare decline), else the decline."""
    topic = knowledge.topics.get(intent or "")
    return not_covered_reply(topic) if topic else decline_reply()


def clarify_reply(choices: List[Answer]) -> Reply:
    """The `clarify` reply: "did you mean ...?" with these answers as buttons."""
    return new_reply(
        "clarify", reply_text("clarify"), buttons=buttons_for(choices), answer_ids=[a.id for a in choices]
    )


class ActionOfferQuestions(Action):
    def name(self) -> str:
        return "action_offer_questions"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        utter(dispatcher, tracker, menu_reply())
        return []


class ActionDecline(Action):
    """The article does not cover it: say so, point to the clinic, offer what it does cover."""

    def name(self) -> str:
        return "action_decline"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        utter(dispatcher, tracker, decline_reply())
        return []


class ActionClarify(Action):
    """An unclear message, in this order: answer a condition question whose condition is known
    (unless it asks about the condition itself); decline what the nearest examples or the
    uncovered probability say the article does not answer (unless it names a condition a likely
    condition question asks about, or the classifier finds one answer likelier than all the
    other intents together); decline a question about a condition itself with what the article
    says of it; give the reply of a not-covered topic likelier than all else (again unless it
    names a condition a likely condition question asks about); give the other treatments'
    reply to a question whether something else helps ("does cbd oil help back pain?"); offer
    the likeliest questions, or, where there are none, the answer the nearest examples mostly
    are, unless the message asks for a detail none of them gives (a number, name, date, degree,
    comparison, or whether for everyone: then say so, quoting the likeliest); or decline."""

    def name(self) -> str:
        return "action_clarify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        knowledge = load_knowledge()
        ranking = ranking_without_fallback(tracker)
        top = ranking[0] if ranking else {"name": OUT_OF_SCOPE, "confidence": 0.0}
        about_condition = condition_itself_reply(tracker, knowledge)
        if condition_question_with_its_condition(top, tracker) and about_condition is None:
            return utter_answers(dispatcher, tracker, choose_answers(top["name"], tracker, knowledge))
        # The vote never declines what the classifier finds one answer likelier than all else:
        # the two disagree, and "did you mean ...?" asks rather than tells.
        likeliest_answer = top["name"] in knowledge.answers and top["confidence"] >= LIKELIER_THAN_THE_REST
        named_condition = asks_about_named_condition(tracker, ranking)
        named_condition = named_condition and not general_condition_question(tracker, top, knowledge)
        uncovered = None
        if not (named_condition or likeliest_answer):
            voted = nearest_uncovered(tracker, knowledge)
            uncovered = voted or probably_uncovered(tracker, ranking, knowledge)
        if uncovered is not None:
            utter(dispatcher, tracker, topic_reply(uncovered, knowledge))
            return []
        if about_condition is not None:  # when no not-covered topic says more
            utter(dispatcher, tracker, about_condition)
            return []
        offered = nearest_answer(tracker, knowledge)  # never with an uncovered majority
        likeliest_topic = top["name"] in knowledge.topics and top["confidence"] >= LIKELIER_THAN_THE_REST
        if likeliest_topic and offered is None and not named_condition:
            utter(dispatcher, tracker, topic_reply(top["name"], knowledge))
            return []
        question = str(tracker.latest_message.get("text") or "")
        if asks_if_something_else_helps(question, procedure_named(tracker)):  # "does cbd oil help?"
            utter(dispatcher, tracker, topic_reply(ALTERNATIVES, knowledge))
            return []
        choices = likely_answers(tracker, knowledge)
        if offered is not None and not choices:
            choices = choose_answers(offered, tracker, knowledge)
        # "who invented the balloon kyphoplasty?": no answer offered names anyone; say so
        missing = missing_detail_reply(question, choices, quoted=1) if choices else None
        if missing is not None:
            utter(dispatcher, tracker, missing)
            return []
        utter(dispatcher, tracker, clarify_reply(choices) if choices else decline_reply())
        return []
