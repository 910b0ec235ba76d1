"""200 realistic patient messages through the widget channel, each judged by the kind of its reply.

tests/dialogues/dev_cases.yml was written apart from the training data; it was used to choose the
fallback threshold, so it is a development set: the floors below guard against regressions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.answers import answer_reply
from actions.guidance import clarify_reply, decline_reply
from actions.knowledge import load_knowledge
from actions.replies import after_care_reply, emergency_replies, not_covered_reply, other_language_reply
from evaluation.dialogue_cases import Case, evaluate, judge, load_cases, summary, widget_chat
from evaluation.servers import Assistant

CASES = Path(__file__).parent / "dialogues" / "dev_cases.yml"
KNOWLEDGE = load_knowledge()
RECOVERY = KNOWLEDGE.answers["recovery"]


def widget(*replies: dict) -> list:
    """The widget channel's messages for these structured replies."""
    return [{"recipient_id": "patient", "custom": reply} for reply in replies]


ANSWERED = widget(answer_reply([RECOVERY], []))
DECLINED = widget(decline_reply())
NOT_COVERED = widget(not_covered_reply(KNOWLEDGE.topics["cost_and_insurance"]))
AFTER_CARE = widget(after_care_reply())
CLARIFIED = widget(clarify_reply([RECOVERY, KNOWLEDGE.answers["sedation"]]))
EMERGENCY = widget(*emergency_replies(["legs"]))
OTHER_LANGUAGE = widget(other_language_reply("es"))
GREETED = [{"recipient_id": "patient", "text": "Hello!"}]


@pytest.fixture(scope="module")
def verdicts(assistant: Assistant) -> list:
    return evaluate(load_cases(CASES), widget_chat(assistant.base_url))


def share(verdicts: list, expect: str, outcome: str) -> float:
    counts = summary(verdicts)[expect]
    return counts.get(outcome, 0) / sum(counts.values())


def failures(verdicts: list, expect: str) -> list:
    return [
        (v.case.text, v.kind, v.answers) for v in verdicts if v.case.expect == expect and v.outcome != "right"
    ]


def test_every_emergency_is_sent_to_emergency_care(verdicts: list) -> None:
    assert share(verdicts, "emergency", "right") == 1.0, failures(verdicts, "emergency")


def test_covered_questions_get_their_answer_and_hardly_ever_a_wrong_one(verdicts: list) -> None:
    # The targets: at most 1 % wrong answers; covered ones answered or offered first.
    assert share(verdicts, "answer", "wrong") <= 0.01, failures(verdicts, "answer")
    answered = share(verdicts, "answer", "right") + share(verdicts, "answer", "offered")
    assert answered >= 0.93, failures(verdicts, "answer")


def test_questions_the_article_does_not_answer_are_declined(verdicts: list) -> None:
    assert share(verdicts, "decline", "right") >= 0.9, failures(verdicts, "decline")
    assert share(verdicts, "decline", "wrong") <= 0.02, failures(verdicts, "decline")


@pytest.mark.parametrize(
    "messages, case, outcome",
    [
        (DECLINED, Case("cost?", "decline"), "right"),
        (NOT_COVERED, Case("cost?", "decline"), "right"),
        (AFTER_CARE, Case("my back hurts since the procedure", "decline"), "right"),
        (CLARIFIED, Case("cost?", "decline"), "clarified"),
        (EMERGENCY, Case("numb legs", "emergency"), "right"),
        (DECLINED, Case("numb legs", "emergency"), "missed"),
        (GREETED, Case("numb legs", "emergency"), "missed"),
        (ANSWERED, Case("recovery?", "answer", "recovery"), "right"),
        (ANSWERED, Case("risks?", "answer", "safety_and_risks"), "wrong"),
        (ANSWERED, Case("cost?", "decline"), "wrong"),
        (DECLINED, Case("recovery?", "answer", "recovery"), "declined"),
        (NOT_COVERED, Case("recovery?", "answer", "recovery"), "declined"),
        (GREETED, Case("recovery?", "answer", "recovery"), "wrong"),
        (AFTER_CARE, Case("my back hurts since the procedure", "after_care"), "right"),
        (NOT_COVERED, Case("my back hurts since the procedure", "after_care"), "declined"),
        (OTHER_LANGUAGE, Case("¿Qué es?", "other_language"), "right"),
        (ANSWERED, Case("¿Qué es?", "other_language"), "wrong"),
    ],
)
def test_the_judge(messages: list, case: Case, outcome: str) -> None:
    assert judge(case, messages).outcome == outcome


def test_the_judge_keeps_the_answers_given_or_the_choices_offered_in_order() -> None:
    assert judge(Case("recovery?", "answer", "recovery"), ANSWERED).answers == ["recovery"]
    assert judge(Case("recovery?", "answer", "recovery"), CLARIFIED).answers == ["recovery", "sedation"]
    assert judge(Case("recovery?", "answer", "recovery"), CLARIFIED).outcome == "offered"
    assert judge(Case("sedation?", "answer", "sedation"), CLARIFIED).outcome == "clarified"


def test_the_judge_sees_a_safety_note() -> None:
    noted = widget({**decline_reply(), "safety_note": {"text": "If ...", "call": []}})
    assert judge(Case("cost?", "decline"), noted).safety_note
    assert not judge(Case("cost?", "decline"), DECLINED).safety_note


def test_cases_with_context_are_sent_in_one_conversation_context_first() -> None:
    sent = []

    def chat(sender: str, message: str) -> list:
        sent.append((sender, message))
        return ANSWERED

    (verdict,) = evaluate([Case("and the recovery?", "answer", "recovery", ("what is it",))], chat)
    assert [message for _, message in sent] == ["what is it", "and the recovery?"]
    assert len({sender for sender, _ in sent}) == 1
    assert verdict.outcome == "right"
