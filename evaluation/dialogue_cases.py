"""Sends patient messages to the running assistant and judges each reply by its structured kind.

The assistant is asked through its widget channel, whose replies carry the actions' structured
reply (`custom`, shape in actions/reply.py), so a judgement never depends on wording. A case
expects an `answer` (with the id of the answer that fits), a `decline` (the article is silent:
any honest decline is right: not_covered, decline or after_care), `after_care`, an `emergency` or
`other_language`; its `context` messages are sent first, in the same conversation.
Outcomes: right, offered (asked "did you mean ...?" with the expected answer first), clarified
(asked "did you mean ...?" otherwise), declined (an honest decline instead of what was
expected), wrong (an answer beside the question, or any other wrong kind), missed (an emergency
not sent to emergency care), no_note (right, but the safety note a mentioned red flag needs is
missing).
"""

from __future__ import annotations

import argparse
import collections
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import requests
import yaml

Chat = Callable[[str, str], List[Dict[str, Any]]]
WIDGET_WEBHOOK = "/webhooks/widget/webhook"
HONEST_DECLINES = frozenset({"not_covered", "decline", "after_care"})


@dataclass(frozen=True)
class Case:
    text: str
    expect: str  # answer | decline | after_care | emergency | other_language
    answer: Optional[str] = None
    context: Tuple[str, ...] = ()  # messages sent before, in the same conversation
    safety_note: bool = False  # the reply should carry a safety note
    also: Tuple[str, ...] = ()  # other answer ids that would answer it too, or "decline"
    tags: Tuple[str, ...] = ()  # kinds of message (near_miss, typo, ...), for reports

    @property
    def acceptable_answers(self) -> frozenset:
        return frozenset(a for a in (self.answer, *self.also) if a and a != "decline")


@dataclass(frozen=True)
class Verdict:
    case: Case
    kind: str  # the first reply's kind (actions/reply.py), "other" for a plain-text reply
    answers: List[str]  # answer: the ids of the answers given; clarify: the first choice's id
    safety_note: bool  # some reply carried a safety note

    @property
    def outcome(self) -> str:
        outcome = self._kind_outcome()
        if outcome == "right" and self.case.safety_note and not self.safety_note:
            return "no_note"
        return outcome

    def _kind_outcome(self) -> str:
        case, kind = self.case, self.kind
        if case.expect == "emergency":
            return "right" if kind == "emergency" else "missed"
        if kind == "clarify":
            return "offered" if set(self.answers[:1]) & case.acceptable_answers else "clarified"
        if kind == "answer" and set(self.answers) & case.acceptable_answers:
            return "right"
        if (case.expect == "decline" or "decline" in case.also) and kind in HONEST_DECLINES:
            return "right"
        if kind == case.expect and case.expect != "answer":
            return "right"
        return "declined" if kind in HONEST_DECLINES else "wrong"


def load_cases(path: Path) -> List[Case]:
    """The `cases` of a YAML file: `{text, expect, answer?, context?, safety_note?}` each (other
    fields, such as `id`, `tags` or `source`, are for people)."""
    return [
        Case(
            text=entry["text"],
            expect=entry["expect"],
            answer=entry.get("answer"),
            context=tuple(entry.get("context", ())),
            safety_note=bool(entry.get("safety_note", False)),
            also=tuple(entry.get("also", ())),
            tags=tuple(entry.get("tags", ())),
        )
        for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
    ]


def judge(case: Case, messages: List[Dict[str, Any]]) -> Verdict:
    """Judges the widget channel's messages for one patient message (`[{custom}]` or `[{text}]`)."""
    replies = [m["custom"] for m in messages if isinstance(m.get("custom"), dict)]
    first = messages[0].get("custom") if messages else None
    kind = first.get("kind", "other") if isinstance(first, dict) else "other"
    answers = list(first.get("answer_ids", [])) if kind in ("answer", "clarify") else []
    return Verdict(case, kind, answers, any(reply.get("safety_note") for reply in replies))


def evaluate(cases: List[Case], chat: Chat) -> List[Verdict]:
    """Each case in a new conversation: its context first, then its text, whose reply is judged."""
    verdicts = []
    for case in cases:
        sender = uuid.uuid4().hex
        for message in case.context:
            chat(sender, message)
        verdicts.append(judge(case, chat(sender, case.text)))
    return verdicts


def summary(verdicts: List[Verdict]) -> Dict[str, Dict[str, int]]:
    """`{expect: {outcome: count}}`."""
    table: Dict[str, Dict[str, int]] = collections.defaultdict(lambda: collections.Counter())
    for verdict in verdicts:
        table[verdict.case.expect][verdict.outcome] += 1
    return {expect: dict(counts) for expect, counts in table.items()}


def rest_chat(url: str) -> Chat:
    """Chats with the channel whose webhook is `url` (REST or widget): `chat(sender, message)`
    returns its JSON list of messages; HTTP errors raise."""
    session = requests.Session()

    def chat(sender: str, message: str) -> List[Dict[str, Any]]:
        response = session.post(url, json={"sender": sender, "message": message}, timeout=60)
        response.raise_for_status()
        return response.json()

    return chat


def widget_chat(server: str) -> Chat:
    """Chats with the widget channel of the Rasa server at `server` (e.g. http://127.0.0.1:5005),
    whose messages `judge` reads."""
    return rest_chat(server.rstrip("/") + WIDGET_WEBHOOK)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("cases", type=Path)
    parser.add_argument("--server", default="http://127.0.0.1:5005")
    arguments = parser.parse_args()
    verdicts = evaluate(load_cases(arguments.cases), widget_chat(arguments.server))
    for verdict in verdicts:
        if verdict.outcome != "right":
            print(
                f"{verdict.outcome:9} expected {verdict.case.answer or verdict.case.expect:24} "
                f"got {verdict.kind} {verdict.answers} | {verdict.case.text}"
            )
    print(json.dumps(summary(verdicts), indent=2))


if __name__ == "__main__":
    main()
