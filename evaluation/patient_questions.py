"""The patient-questions sets (tests/patient_questions/): how the assistant's replies fare, per kind.

    python -m evaluation.patient_questions                     # tuning and held-out parts
    python -m evaluation.patient_questions --part tuning -v    # also every case not right
    python -m evaluation.patient_questions --write             # both parts, into the report and README

`--write` keeps the figures of both parts in `evaluation/reports/patient_questions.json`, with the
fingerprint of the model's training inputs they were measured on, and rewrites the README's table
of them; `tests/test_readme.py` fails when the table and the report differ, or when the model's
inputs changed since (re-measure then: ~5 minutes).

Starts the real servers with the trained model (evaluation/servers.py), sends each case (its
context first, in the same conversation) through the widget channel and judges the structured
reply (evaluation/dialogue_cases.py). The figures are the ones the issue's targets name:
answered right, answered wrong (beside the question), declined honestly, "did you mean", and
emergencies sent to emergency care.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, List

from evaluation.dialogue_cases import Chat, Verdict, evaluate, load_cases, widget_chat
from evaluation.servers import running_assistant
from nlu_components.paths import PROJECT_ROOT
from scripts.train import MODEL_PATH, fingerprint

SETS = PROJECT_ROOT / "tests" / "patient_questions"
PARTS = ("tuning", "heldout")
REPORT = PROJECT_ROOT / "evaluation" / "reports" / "patient_questions.json"
README = PROJECT_ROOT / "README.md"
README_BEGIN = "<!-- patient questions: begin -->"
README_END = "<!-- patient questions: end -->"


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


def markdown(report: Dict[str, Any]) -> str:
    """The README's table of a report written by `--write`: one row per figure, one column per part."""
    parts = report["parts"]
    rows = [
        f"| {name} | {parts['heldout']['figures'][name]} | {parts['tuning']['figures'][name]} |"
        for name in parts["heldout"]["figures"]
    ]
    return "\n".join(
        [
            f"Patient questions ({report['date']}, `python -m evaluation.patient_questions --write`):"
            " the trained model through the widget channel, shares of each part's cases.",
            "",
            "| figure | held-out part (reported only) | tuning part (fitted on) |",
            "|---|---|---|",
            *rows,
        ]
    )


def write(results: Dict[str, List[Verdict]]) -> None:
    """Keeps both parts' figures in REPORT and puts their table in the README."""
    report = {
        "date": datetime.date.today().isoformat(),
        "model_inputs": fingerprint(),
        "parts": {part: {"figures": figures(v), "by_tag": by_tag(v)} for part, v in results.items()},
    }
    REPORT.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    text = README.read_text(encoding="utf-8")
    before, rest = text.split(README_BEGIN)
    after = rest.split(README_END)[1]
    README.write_text(f"{before}{README_BEGIN}\n{markdown(report)}\n{README_END}{after}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=PARTS, action="append", help="default: both")
    parser.add_argument("--model", type=Path, default=MODEL_PATH)
    parser.add_argument("-v", "--verbose", action="store_true", help="print every case not right")
    parser.add_argument("--write", action="store_true", help="both parts, into the report and the README")
    arguments = parser.parse_args()
    if arguments.write and arguments.part:
        parser.error("--write measures both parts")
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
    if arguments.write:
        write(results)


if __name__ == "__main__":
    main()
