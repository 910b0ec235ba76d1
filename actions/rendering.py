"""Turns answers into what the patient reads: the plain answer, the article's sentences word for
word, and the references those sentences cite. Plain text with blank lines between the parts, so
that every channel (web, SMS, WhatsApp, Telegram, Messenger, Slack) shows the same thing."""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Sequence

from actions.clinic import Clinic
from actions.knowledge import Answer, Knowledge, Reference, Sentence

CONDITION_INTENT = "conditions_treated"
# Channels whose clients render structure themselves (the website widget); others get text.
STRUCTURED_CHANNELS = frozenset({"widget"})


def reference_label(reference: Reference) -> str:
    authors = f"{reference.authors}. " if reference.authors else ""
    return f"{authors}{reference.title}. {reference.publisher}, {reference.year}."


def format_reference(reference: Reference) -> str:
    return f"[{reference.number}] {reference_label(reference)} {reference.url}"


def render_evidence(sentences: Sequence[Sentence]) -> str:
    return "From the article:\n" + "\n".join(f"“{sentence.text}”" for sentence in sentences)


def render_sources(sentences: Sequence[Sentence], knowledge: Knowledge, clinic: Clinic) -> str:
    lines = [format_reference(reference) for reference in knowledge.references_of(sentences)]
    if any(not sentence.refs for sentence in sentences):
        lines.append(
            f"Sentences without a number: {clinic.name}, “{clinic.article_title}”, {clinic.article_url}"
        )
    return "Sources:\n" + "\n".join(lines)


def evidence_of(answers: Sequence[Answer]) -> List[Sentence]:
    """The answers' evidence in order, each sentence once."""
    return list(dict.fromkeys(sentence for answer in answers for sentence in answer.evidence))


def render_answers(answers: Sequence[Answer], knowledge: Knowledge, clinic: Clinic) -> str:
    text = " ".join(answer.text.format(**clinic.template_values()) for answer in answers)
    evidence = evidence_of(answers)
    return "\n\n".join([text, render_evidence(evidence), render_sources(evidence, knowledge, clinic)])


def payload_for(answer: Answer) -> str:
    """The message a button sends: the intent that leads to this answer, with its condition."""
    if answer.conditions:
        return f"/{CONDITION_INTENT}{json.dumps({'condition': answer.conditions[0]})}"
    return f"/{answer.id}"


def buttons_for(answers: Sequence[Answer]) -> List[Dict[str, str]]:
    return [{"title": answer.question, "payload": payload_for(answer)} for answer in answers]


def answer_payload(
    answers: Sequence[Answer], knowledge: Knowledge, clinic: Clinic, buttons: List[Dict[str, str]]
) -> Dict[str, Any]:
    """The same answer as `render_answers`, as data for a client that lays it out itself."""
    evidence = evidence_of(answers)
    unreferenced = any(not sentence.refs for sentence in evidence)
    return {
        "kind": "answer",
        "text": " ".join(answer.text.format(**clinic.template_values()) for answer in answers),
        "quotes": [{"id": s.id, "text": s.text, "refs": list(s.refs)} for s in evidence],
        "references": [
            {"number": r.number, "label": reference_label(r), "url": r.url}
            for r in knowledge.references_of(evidence)
        ],
        "article": {"title": clinic.article_title, "url": clinic.article_url, "publisher": clinic.name}
        if unreferenced
        else None,
        "buttons": buttons,
    }


def emergency_payload(text: str, numbers: Sequence[str]) -> Dict[str, Any]:
    return {
        "kind": "emergency",
        "text": text,
        "call": [{"number": number, "tel": re.sub(r"[^0-9+]", "", number)} for number in numbers],
    }
