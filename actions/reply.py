"""The one structured reply every custom action sends (`dispatcher.utter_message(json_message=...)`).

Actions say what; each input channel says how (channels/text_output.py renders it as plain-text
messages for the REST channel; the widget channel passes it to widget/kyphoplasty-chat.js).
A reply is a plain JSON dict:

    kind         "answer" | "not_covered" | "decline" | "clarify" | "menu" | "sources"
                 | "emergency" | "after_care" | "other_language"
    text         str: what to say (may hold "\\n" between paragraphs)
    quotes       [{id, text, refs: [int]}]: article sentences, word for word, in order
    references   [{number, label, publisher, url}]: the references the quotes cite, by number
    article      {title, url, publisher} when a quote carries no [n], else null
    buttons      [{title, payload}]: questions to offer; payload is the message a button sends
    call         [{number, tel}]: numbers to call, most important first (tel: digits and "+")
    safety_note  {text, call} or null: a red flag the patient only mentioned; shown first
and, by kind:
    answer_ids   answer, clarify: ids of the answers given, or offered (in the buttons' order)
    topic        not_covered: the id of the topic in knowledge/not_covered.yml
    watch_for    after_care: [str], the signs that need the emergency number, listed after text
    language     other_language: ISO 639-1 code of the language `text` is written in
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterable, List, Sequence

from actions.clinic import Clinic, load_clinic
from actions.knowledge import Answer, Knowledge, Reference, Sentence

Reply = Dict[str, Any]
CONDITION_INTENT = "conditions_treated"
SENTENCE_END = (".", "?", "!")


def _as_sentence(part: str) -> str:
    return part if part.endswith(SENTENCE_END) else f"{part}."


def reference_label(reference: Reference) -> str:
    """`Authors. Title. Publisher, year.` with one full stop after each part ("et al.", "It?")."""
    parts = [reference.authors, reference.title] if reference.authors else [reference.title]
    return " ".join(_as_sentence(part) for part in parts) + f" {reference.publisher}, {reference.year}."


def payload_for(answer: Answer) -> str:
    """The message a button sends: the intent that leads to this answer, with its condition."""
    if answer.conditions:
        return f"/{CONDITION_INTENT}{json.dumps({'condition': answer.conditions[0]})}"
    return f"/{answer.id}"


def buttons_for(answers: Sequence[Answer]) -> List[Dict[str, str]]:
    return [{"title": answer.question, "payload": payload_for(answer)} for answer in answers]


def call_list(numbers: Sequence[str]) -> List[Dict[str, str]]:
    """`[{number, tel}]` for these numbers, each once, in order."""
    return [{"number": number, "tel": re.sub(r"[^0-9+]", "", number)} for number in dict.fromkeys(numbers)]


def new_reply(
    kind: str,
    text: str,
    *,
    buttons: Sequence[Dict[str, str]] = (),
    call: Sequence[str] = (),
    **fields: Any,
) -> Reply:
    """A reply with every common field, empty unless given; `fields` adds or overrides fields
    (e.g. `**evidence(...)`, `answer_ids=[...]`). The clinic's phone joins `call` whenever the
    text gives it, so every channel can offer it to tap."""
    clinic_phone = load_clinic().phone
    return {
        "kind": kind,
        "text": text,
        "quotes": [],
        "references": [],
        "article": None,
        "buttons": list(buttons),
        "call": call_list([*call, *([clinic_phone] if clinic_phone in text else [])]),
        "safety_note": None,
        **fields,
    }


def reference_list(references: Iterable[Reference]) -> List[Dict[str, Any]]:
    """`[{number, label, publisher, url}]` for these references."""
    return [
        {"number": r.number, "label": reference_label(r), "publisher": r.publisher, "url": r.url}
        for r in references
    ]


def evidence(sentences: Sequence[Sentence], knowledge: Knowledge, clinic: Clinic) -> Dict[str, Any]:
    """`quotes`, `references` and `article` for these sentences (with their lists' lead-ins)."""
    quoted = knowledge.quoted(sentences)
    return {
        "quotes": [{"id": s.id, "text": s.text, "refs": list(s.refs)} for s in quoted],
        "references": reference_list(knowledge.references_of(quoted)),
        "article": {"title": clinic.article_title, "url": clinic.article_url, "publisher": clinic.name}
        if any(not s.refs for s in quoted)
        else None,
    }
