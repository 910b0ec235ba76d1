"""The assistant's knowledge: the article's sentences, its references and the answers.

Loaded once from knowledge/*.yml and checked on load: an answer that names a sentence that does
not exist, or a sentence that cites a reference that does not exist, stops the action server.
An answer's references are derived from its evidence, never written down.
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


@dataclass(frozen=True)
class Sentence:
    id: str
    text: str
    refs: Tuple[int, ...]


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


def unique_refs(sentences: Iterable[Sentence]) -> Tuple[int, ...]:
    return tuple(sorted({number for sentence in sentences for number in sentence.refs}))


@dataclass(frozen=True)
class Knowledge:
    sentences: Dict[str, Sentence]
    references: Dict[int, Reference]
    answers: Dict[str, Answer]
    starters: Tuple[Answer, ...]

    def answer_for_condition(self, condition: str) -> Optional[Answer]:
        return next((a for a in self.answers.values() if condition in a.conditions), None)

    def references_of(self, sentences: Iterable[Sentence]) -> List[Reference]:
        return [self.references[number] for number in unique_refs(sentences)]


def _read(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _load_sentences() -> Dict[str, Sentence]:
    return {
        entry["id"]: Sentence(entry["id"], entry["text"], tuple(entry["refs"]))
        for entry in _read(ARTICLE_PATH)["sentences"]
    }


def _load_references() -> Dict[int, Reference]:
    return {
        int(number): Reference(number=int(number), **fields)
        for number, fields in _read(REFERENCES_PATH)["references"].items()
    }


def _load_answers(sentences: Dict[str, Sentence]) -> Dict[str, Answer]:
    answers = {}
    for answer_id, fields in _read(ANSWERS_PATH)["answers"].items():
        missing = [i for i in fields["evidence"] if i not in sentences]
        if missing:
            raise ValueError(f"Answer {answer_id!r} cites unknown sentences {missing}")
        answers[answer_id] = Answer(
            id=answer_id,
            question=fields["question"],
            text=" ".join(fields["answer"].split()),
            evidence=tuple(sentences[i] for i in fields["evidence"]),
            related=tuple(fields.get("related", ())),
            conditions=tuple(fields.get("condition", ())),
        )
    for answer in answers.values():
        unknown = [r for r in answer.related if r not in answers]
        if unknown:
            raise ValueError(f"Answer {answer.id!r} relates to unknown answers {unknown}")
    return answers


@lru_cache(maxsize=1)
def load_knowledge() -> Knowledge:
    sentences = _load_sentences()
    references = _load_references()
    dangling = {n for s in sentences.values() for n in s.refs} - set(references)
    if dangling:
        raise ValueError(f"The article cites references that are not listed: {sorted(dangling)}")
    answers = _load_answers(sentences)
    starters = tuple(answers[i] for i in _read(ANSWERS_PATH)["starter_questions"])
    return Knowledge(sentences, references, answers, starters)
