"""200 realistic patient messages through the REST channel, each judged as a patient would.

tests/dialogues/dev_cases.yml was written apart from the training data; it was used to choose the
fallback threshold, so it is a development set: the floors below guard against regressions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.clinic import load_clinic
from actions.knowledge import load_knowledge
from actions.rendering import render_answers
from actions.replies import emergencies, reply
from evaluation.dialogue_cases import Case, evaluate, judge, load_cases, summary
from evaluation.servers import Assistant

CASES = Path(__file__).parent / "dialogues" / "dev_cases.yml"
KNOWLEDGE = load_knowledge()
RECOVERY = KNOWLEDGE.answers["recovery"]


@pytest.fixture(scope="module")
def verdicts(assistant: Assistant) -> list:
    return evaluate(load_cases(CASES), assistant.chat)


def share(verdicts: list, expect: str, outcome: str) -> float:
    counts = summary(verdicts)[expect]
    return counts.get(outcome, 0) / sum(counts.values())


def failures(verdicts: list, expect: str) -> list:
    return [
        (v.case.text, v.kind, v.answers) for v in verdicts if v.case.expect == expect and v.outcome != "right"
    ]


def test_every_emergency_is_sent_to_emergency_care(verdicts: list) -> None:
    assert share(verdicts, "emergency", "right") == 1.0, failures(verdicts, "emergency")


def test_covered_questions_get_their_answer_and_never_a_wrong_one(verdicts: list) -> None:
    assert share(verdicts, "answer", "wrong") == 0.0, failures(verdicts, "answer")
    assert share(verdicts, "answer", "right") >= 0.93, failures(verdicts, "answer")


def test_questions_the_article_does_not_answer_are_declined(verdicts: list) -> None:
    assert share(verdicts, "decline", "right") >= 0.9, failures(verdicts, "decline")
    assert share(verdicts, "decline", "wrong") <= 0.02, failures(verdicts, "decline")


@pytest.mark.parametrize(
    "messages, case, outcome",
    [
        ([{"text": reply("decline")}], Case("cost?", "decline"), "right"),
        ([{"text": reply("clarify")}], Case("cost?", "decline"), "clarified"),
        ([{"text": emergencies(["legs"])[0].text}], Case("numb legs", "emergency"), "right"),
        ([{"text": reply("decline")}], Case("numb legs", "emergency"), "missed"),
        (
            [{"text": render_answers([RECOVERY], KNOWLEDGE, load_clinic())}],
            Case("recovery?", "answer", "recovery"),
            "right",
        ),
        (
            [{"text": render_answers([RECOVERY], KNOWLEDGE, load_clinic())}],
            Case("risks?", "answer", "safety_and_risks"),
            "wrong",
        ),
        ([{"text": render_answers([RECOVERY], KNOWLEDGE, load_clinic())}], Case("cost?", "decline"), "wrong"),
        ([{"text": reply("decline")}], Case("recovery?", "answer", "recovery"), "declined"),
    ],
)
def test_the_judge(messages: list, case: Case, outcome: str) -> None:
    assert judge(case, messages).outcome == outcome
