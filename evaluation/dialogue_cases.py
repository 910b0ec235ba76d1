"""Sends patient messages to the running assistant and judges each reply.

A case expects an `answer` (with the id of the answer that fits), a `decline` (the article is
silent) or an `emergency`. A reply is judged from the texts the assistant can send, which come
from the knowledge and replies files, so a judgement never depends on typed-in expectations of
wording. Outcomes: right, clarified (asked "did you mean ...?"), declined, wrong, missed.
"""

from __future__ import annotations

import argparse
import collections
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import requests
import yaml

from actions.clinic import load_clinic
from actions.knowledge import load_knowledge
from actions.replies import emergencies, red_flag_kinds, reply

Chat = Callable[[str, str], List[Dict[str, Any]]]


@dataclass(frozen=True)
class Case:
    text: str
    expect: str  # answer | decline | emergency
    answer: Optional[str] = None


@dataclass(frozen=True)
class Verdict:
    case: Case
    kind: str  # answer | decline | clarify | emergency | other
    answers: List[str]

    @property
    def outcome(self) -> str:
        if self.case.expect == "emergency":
            return "right" if self.kind == "emergency" else "missed"
        if self.kind == "clarify":
            return "clarified"
        if self.case.expect == "decline":
            return "right" if self.kind == "decline" else "wrong"
        if self.kind == "decline":
            return "declined"
        return "right" if self.case.answer in self.answers else "wrong"


def load_cases(path: Path) -> List[Case]:
    return [Case(**entry) for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]]


def judge(case: Case, messages: List[Dict[str, Any]]) -> Verdict:
    texts = [m.get("text") or "" for m in messages]
    first = texts[0] if texts else ""
    values = load_clinic().template_values()
    emergency_texts = {e.text for kind in [*red_flag_kinds(), "none"] for e in emergencies([kind])}
    if first in emergency_texts:
        return Verdict(case, "emergency", [])
    if first == reply("decline"):
        return Verdict(case, "decline", [])
    if first == reply("clarify"):
        return Verdict(case, "clarify", [])
    answered = [
        answer.id
        for answer in load_knowledge().answers.values()
        if answer.text.format(**values) in first and "From the article:" in "\n".join(texts)
    ]
    return Verdict(case, "answer" if answered else "other", answered)


def evaluate(cases: List[Case], chat: Chat) -> List[Verdict]:
    return [judge(case, chat(uuid.uuid4().hex, case.text)) for case in cases]


def summary(verdicts: List[Verdict]) -> Dict[str, Dict[str, int]]:
    table: Dict[str, Dict[str, int]] = collections.defaultdict(lambda: collections.Counter())
    for verdict in verdicts:
        table[verdict.case.expect][verdict.outcome] += 1
    return {expect: dict(counts) for expect, counts in table.items()}


def rest_chat(url: str) -> Chat:
    session = requests.Session()

    def chat(sender: str, message: str) -> List[Dict[str, Any]]:
        response = session.post(url, json={"sender": sender, "message": message}, timeout=60)
        response.raise_for_status()
        return response.json()

    return chat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("cases", type=Path)
    parser.add_argument("--url", default="http://127.0.0.1:5005/webhooks/rest/webhook")
    arguments = parser.parse_args()
    verdicts = evaluate(load_cases(arguments.cases), rest_chat(arguments.url))
    for verdict in verdicts:
        if verdict.outcome != "right":
            print(
                f"{verdict.outcome:9} expected {verdict.case.answer or verdict.case.expect:24} "
                f"got {verdict.kind} {verdict.answers} | {verdict.case.text}"
            )
    print(json.dumps(summary(verdicts), indent=2))


if __name__ == "__main__":
    main()
