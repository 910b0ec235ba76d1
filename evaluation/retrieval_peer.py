"""The retrieval peer: what a clinic could build in an afternoon, measured beside the assistant.

BM25 (rank_bm25's Okapi BM25) over the article's sentences: a question gets the best-scoring
sentence, quoted with its reference, when its score reaches a threshold, and "the article does
not cover that" otherwise. The threshold is the one that gets the most cases right on the
tuning part of the patient-questions set, as a clinic tuning it on its own questions would; the
peer is then judged on the held-out part like the assistant. It has no red-flag detection and
no conversation: its answer is right when the sentence it quotes is evidence of an answer that
fits the question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from rank_bm25 import BM25Okapi
from spacy.lang.en.stop_words import STOP_WORDS

from actions.knowledge import Knowledge
from evaluation.dialogue_cases import Case

WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> List[str]:
    return [w for w in WORD.findall(text.lower()) if w not in STOP_WORDS]


@dataclass(frozen=True)
class PeerVerdict:
    case: Case
    sentence_id: Optional[str]  # the quoted sentence, or None for "not covered"

    def outcome(self, evidence_of: Dict[str, Sequence[str]]) -> str:
        """right | wrong | declined | missed, as the assistant's verdicts (no clarify here)."""
        case = self.case
        if case.expect == "emergency":
            return "missed"
        if self.sentence_id is None:
            return "right" if case.expect == "decline" or "decline" in case.also else "declined"
        fitting = {s for answer in case.acceptable_answers for s in evidence_of.get(answer, ())}
        return "right" if self.sentence_id in fitting else "wrong"


class RetrievalPeer:
    """BM25 over the article's sentences, answering above `threshold`."""

    def __init__(self, knowledge: Knowledge, threshold: float = 0.0) -> None:
        self.ids = list(knowledge.sentences)
        self.index = BM25Okapi([words(knowledge.sentences[i].text) or ["_"] for i in self.ids])
        self.threshold = threshold

    def best(self, question: str) -> Tuple[str, float]:
        scores = self.index.get_scores(words(question))
        top = max(range(len(scores)), key=scores.__getitem__)
        return self.ids[top], float(scores[top])

    def reply(self, question: str) -> Optional[str]:
        """The id of the sentence to quote, or None to decline."""
        sentence_id, score = self.best(question)
        return sentence_id if score >= self.threshold else None


def evidence_by_answer(knowledge: Knowledge) -> Dict[str, List[str]]:
    return {answer.id: [s.id for s in answer.evidence] for answer in knowledge.answers.values()}


def judge(peer: RetrievalPeer, cases: Sequence[Case]) -> List[PeerVerdict]:
    return [PeerVerdict(case, peer.reply(case.text)) for case in cases]


def tune_threshold(knowledge: Knowledge, cases: Sequence[Case]) -> float:
    """The threshold that gets the most `cases` right (ties: the lowest)."""
    peer, evidence = RetrievalPeer(knowledge), evidence_by_answer(knowledge)
    scored = [(case, *peer.best(case.text)) for case in cases]
    candidates = sorted({score for _, _, score in scored} | {0.0})

    def right(threshold: float) -> int:
        verdicts = [PeerVerdict(case, s if score >= threshold else None) for case, s, score in scored]
        return sum(v.outcome(evidence) == "right" for v in verdicts)

    return max(candidates, key=lambda t: (right(t), -t))
