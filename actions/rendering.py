"""Turns answers into what the patient reads: the plain answer, the article's sentences word for
word, and the references those sentences cite. Plain text with blank lines between the parts, so
that every channel (web, SMS, WhatsApp, Telegram, Messenger, Slack) shows the same thing."""

from __future__ import annotations

import json
from typing import Dict, List, Sequence

from actions.clinic import Clinic
from actions.knowledge import Answer, Knowledge, Reference, Sentence

CONDITION_INTENT = "conditions_treated"


def format_reference(reference: Reference) -> str:
    authors = f"{reference.authors}. " if reference.authors else ""
    source = f"{reference.title}. {reference.publisher}, {reference.year}."
    return f"[{reference.number}] {authors}{source} {reference.url}"


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
