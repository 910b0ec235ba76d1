"""The assistant's knowledge: the article's sentences, its references, the answers, and the
topics the article does not cover (knowledge/not_covered.yml).

Loaded once from knowledge/*.yml and checked on load: an answer or topic that names a sentence
that does not exist, a list item whose lead-in does not exist, or a sentence that cites a
reference that does not exist, stops the action server (ValueError). References are derived
from the sentences quoted, never written down.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import yaml

KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "knowledge"
ARTICLE_PATH = KNOWLEDGE_DIR / "article.yml"
REFERENCES_PATH = KNOWLEDGE_DIR / "references.yml"
ANSWERS_PATH = KNOWLEDGE_DIR / "answers.yml"
NOT_COVERED_PATH = KNOWLEDGE_DIR / "not_covered.yml"


@dataclass(frozen=True)
class Sentence:
    id: str
    text: str
    refs: Tuple[int, ...]
    lead_in: Optional[str] = None  # for a list item: the id of the sentence introducing the list


@dataclass(frozen=True)
class Reference:
    number: int
    publisher: str
    title: str
    year: int
    url: str
    authors: Optional[str] = None


@dataclass(frozen=True)
class Answer:
    id: str
    question: str
    text: str
    evidence: Tuple[Sentence, ...]
    related: Tuple[str, ...]
    conditions: Tuple[str, ...]

    @property
    def reference_numbers(self) -> Tuple[int, ...]:
        return unique_refs(self.evidence)


@dataclass(frozen=True)
class Topic:
    """A question the article does not answer: says so, and quotes what is nearby (maybe nothing)."""

    id: str
    question: str
    text: str
    nearby: Tuple[Sentence, ...]


def unique_refs(sentences: Iterable[Sentence]) -> Tuple[int, ...]:
    return tuple(sorted({number for sentence in sentences for number in sentence.refs}))


@dataclass(frozen=True)
class Knowledge:
    sentences: Dict[str, Sentence]
    references: Dict[int, Reference]
    answers: Dict[str, Answer]
    starters: Tuple[Answer, ...]
    topics: Dict[str, Topic]

    def answer_for_condition(self, condition: str) -> Optional[Answer]:
        return next((a for a in self.answers.values() if condition in a.conditions), None)

    def references_of(self, sentences: Iterable[Sentence]) -> List[Reference]:
        return [self.references[number] for number in unique_refs(sentences)]

    def quoted(self, sentences: Iterable[Sentence]) -> List[Sentence]:
        """The sentences to quote, in order and each once, a list item's lead-in right before
        the first item of its list (unless quoted earlier)."""
        quoted: Dict[Sentence, None] = {}
        for sentence in sentences:
            if sentence.lead_in:
                quoted.setdefault(self.sentences[sentence.lead_in])
            quoted.setdefault(sentence)
        return list(quoted)


def _read(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _load_sentences() -> Dict[str, Sentence]:
    sentences = {
        entry["id"]: Sentence(entry["id"], entry["text"], tuple(entry["refs"]), entry.get("lead_in"))
        for entry in _read(ARTICLE_PATH)["sentences"]
    }
    unknown = sorted({s.lead_in for s in sentences.values() if s.lead_in and s.lead_in not in sentences})
    if unknown:
        raise ValueError(f"List items have unknown lead-in sentences {unknown}")
    return sentences


def _named_sentences(owner: str, ids: Iterable[str], sentences: Dict[str, Sentence]) -> Tuple[Sentence, ...]:
    """The sentences with these ids; ValueError naming `owner` if any does not exist."""
    ids = list(ids)
    missing = [i for i in ids if i not in sentences]
    if missing:
        raise ValueError(f"{owner} cites unknown sentences {missing}")
    return tuple(sentences[i] for i in ids)


def _load_references() -> Dict[int, Reference]:
    return {
        int(number): Reference(number=int(number), **fields)
        for number, fields in _read(REFERENCES_PATH)["references"].items()
    }


def _load_answers(sentences: Dict[str, Sentence]) -> Dict[str, Answer]:
    answers = {}
    for answer_id, fields in _read(ANSWERS_PATH)["answers"].items():
        answers[answer_id] = Answer(
            id=answer_id,
            question=fields["question"],
            text=" ".join(fields["answer"].split()),
            evidence=_named_sentences(f"Answer {answer_id!r}", fields["evidence"], sentences),
            related=tuple(fields.get("related", ())),
            conditions=tuple(fields.get("condition", ())),
        )
    for answer in answers.values():
        unknown = [r for r in answer.related if r not in answers]
        if unknown:
            raise ValueError(f"Answer {answer.id!r} relates to unknown answers {unknown}")
    return answers


def _load_topics(sentences: Dict[str, Sentence]) -> Dict[str, Topic]:
    return {
        topic_id: Topic(
            id=topic_id,
            question=fields["question"],
            text=" ".join(fields["answer"].split()),
            nearby=_named_sentences(f"Topic {topic_id!r}", fields["nearby"], sentences),
        )
        for topic_id, fields in _read(NOT_COVERED_PATH)["topics"].items()
    }


@lru_cache(maxsize=1)
def load_knowledge() -> Knowledge:
    sentences = _load_sentences()
    references = _load_references()
    dangling = {n for s in sentences.values() for n in s.refs} - set(references)
    if dangling:
        raise ValueError(f"The article cites references that are not listed: {sorted(dangling)}")
    answers = _load_answers(sentences)
    starters = tuple(answers[i] for i in _read(ANSWERS_PATH)["starter_questions"])
    return Knowledge(sentences, references, answers, starters, _load_topics(sentences))
