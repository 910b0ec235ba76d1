"""The patient-questions sets (tests/patient_questions/): how the assistant's replies fare, per kind.

    python -m evaluation.patient_questions                     # tuning and held-out parts
    python -m evaluation.patient_questions --part tuning -v    # also every case not right

Starts the real servers with the trained model (evaluation/servers.py), sends each case (its
context first, in the same conversation) through the widget channel and judges the structured
reply (evaluation/dialogue_cases.py). The figures are the ones the issue's targets name:
answered right, answered wrong (beside the question), declined honestly, "did you mean", and
emergencies sent to emergency care.
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
from pathlib import Path
from typing import Dict, Iterable, List

from evaluation.dialogue_cases import Chat, Verdict, evaluate, load_cases, widget_chat
from evaluation.servers import running_assistant
from nlu_components.paths import PROJECT_ROOT
from scripts.train import MODEL_PATH

SETS = PROJECT_ROOT / "tests" / "patient_questions"
PARTS = ("tuning", "heldout")


def rate(verdicts: Iterable[Verdict], outcomes: Iterable[str]) -> float:
    verdicts = list(verdicts)
    wanted = set(outcomes)
    return round(sum(v.outcome in wanted for v in verdicts) / len(verdicts), 4) if verdicts else 0.0


def figures(verdicts: List[Verdict]) -> Dict[str, float]:
    """The issue's figures for one set of verdicts (shares, 0..1)."""
    covered = [v for v in verdicts if v.case.expect == "answer"]
    uncovered = [v for v in verdicts if v.case.expect == "decline"]
    emergencies = [v for v in verdicts if v.case.expect == "emergency"]
    answered = [v for v in verdicts if v.kind == "answer"]
    return {
        "cases": len(verdicts),
        "answered_right": rate(covered, ["right", "no_note"]),
        "covered_answered_or_offered_first": rate(covered, ["right", "no_note", "offered"]),
        "answered_wrong": round(sum(v.outcome == "wrong" for v in answered) / len(verdicts), 4),
        "uncovered_declined_honestly": rate(uncovered, ["right", "no_note"]),
        "after_care_triaged": rate([v for v in verdicts if v.case.expect == "after_care"], ["right"]),
        "other_language_replied": rate([v for v in verdicts if v.case.expect == "other_language"], ["right"]),
        "did_you_mean": round(sum(v.kind == "clarify" for v in verdicts) / len(verdicts), 4),
        "emergency_recall": rate(emergencies, ["right"]),
        "safety_notes_given": rate([v for v in verdicts if v.case.safety_note], ["right", "offered"]),
        "right_overall": rate(verdicts, ["right"]),
    }


def by_tag(verdicts: List[Verdict]) -> Dict[str, Dict[str, int]]:
    table: Dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for verdict in verdicts:
        for tag in verdict.case.tags:
            table[tag][verdict.outcome] += 1
    return {tag: dict(counts) for tag, counts in sorted(table.items())}


def judge_parts(chat: Chat, parts: Iterable[str]) -> Dict[str, List[Verdict]]:
    return {part: evaluate(load_cases(SETS / f"{part}.yml"), chat) for part in parts}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=PARTS, action="append", help="default: both")
    parser.add_argument("--model", type=Path, default=MODEL_PATH)
    parser.add_argument("-v", "--verbose", action="store_true", help="print every case not right")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as logs, running_assistant(arguments.model, Path(logs)) as assistant:
        results = judge_parts(widget_chat(assistant.base_url), arguments.part or PARTS)
    for part, verdicts in results.items():
        if arguments.verbose:
            for v in verdicts:
                if v.outcome != "right":
                    expected = v.case.answer or v.case.expect
                    got = f"{v.kind} {v.answers[:2]}"
                    print(f"{part} {v.outcome:9} expected {expected:26} got {got:40} | {v.case.text}")
        print(part, json.dumps({"figures": figures(verdicts), "by_tag": by_tag(verdicts)}, indent=1))


if __name__ == "__main__":
    main()
