"""Answerability: does the chosen answer contain what was asked, or only its topic?

A classifier picks the answer whose topic is nearest: "is the bone cement toxic?" lands on the
answer about what the cement is for, "can I fly to Spain with my fracture?" on the answer about
fractures. The question's focus words tell them apart: "toxic" and "fly" never occur in the
questions that answer is trained on, while they are typical of questions the article does not
answer (the known-unknown topics of knowledge/not_covered.yml and `out_of_scope`).

Trained on the NLU data: for every intent, the content lemmas of its examples (their question
part, as QuestionFocus leaves it). At prediction, for a message classified as a covered answer,
each content lemma of its question that the chosen intent has never seen is evidence for the
uncovered intents it is typical of (at least `min_examples` examples of answers, covered or not,
at least `min_share` of them uncovered; conversation and safety intents do not count). The
uncovered intent with the most evidence replaces the prediction, with
confidence 1.0: the question asks what the article does not say. Costs well under a
millisecond a message (set lookups on the message's words).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Set

import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.tokens import Doc

from nlu_components.overrides import override_intent
from nlu_components.paths import project_path

FALLBACK_INTENT = "nlu_fallback"
COUNTS_FILE = "intent_lemmas.json"


def content_lemmas(message: Message) -> Set[str]:
    """The lemmas that carry what the message's question asks (its text, as QuestionFocus left
    it): no stop words, no short words, and no words of a condition or procedure the entity
    ruler found ("thin bones" names osteoporosis, whatever else "thin" is typical of)."""
    doc: Optional[Doc] = message.get(SPACY_DOCS[TEXT])
    if doc is None:
        return set()
    in_entities = {t.i for ent in doc.ents for t in ent}
    return {
        t.lemma_
        for t in doc
        if t.is_alpha and len(t) > 2 and t.i not in in_entities and t.lemma_ not in STOP_WORDS
    }


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class AnswerabilityCheck(GraphComponent):
    """After the FallbackClassifier: a covered answer whose question asks an uncovered detail is
    replaced by the uncovered intent that detail belongs to."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {
            # Intents the article does not answer: the topics of this file, plus these.
            "uncovered_topics": "knowledge/not_covered.yml",
            "uncovered_intents": ["out_of_scope"],
            # Intents that are never answers to check (conversation, safety).
            "unchecked_intents": [],
            # Intents answered by what an entity names ("can it help osteoporosis?"): the entity
            # ruler has already checked that the question is about a condition the article lists.
            "entity_answered_intents": {},
            # Entity -> topic: such an intent asked of this entity only ("would it help my
            # sciatica?": a condition the article does not list) is that topic.
            "unlisted_entities": {},
            "min_examples": 3,
            "min_share": 0.8,
            # A covered answer the classifier is at least this sure of is kept: its examples
            # already hold the question's wording, and an unseen word is then more often a typo
            # ("wen", "aftr") than an uncovered detail. 1.0 checks every answer.
            "max_confidence": 1.0,
            # Words of several senses that decide nothing ("in general" is not "general anaesthesia").
            "ignored_words": [],
        }

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        counts: Dict[str, Dict[str, int]],
    ) -> None:
        self.config = config
        self.model_storage = model_storage
        self.resource = resource
        self.counts = counts  # lemma -> intent -> number of examples with it
        topics = yaml.safe_load(project_path(config["uncovered_topics"]).read_text(encoding="utf-8"))[
            "topics"
        ]
        self.uncovered = set(topics) | set(config["uncovered_intents"])
        self.not_answers = set(config["unchecked_intents"])
        self.unchecked = self.not_answers | self.uncovered | {FALLBACK_INTENT}

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> AnswerabilityCheck:
        return cls(config, model_storage, resource, {})

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> AnswerabilityCheck:
        with model_storage.read_from(resource) as directory:
            counts = json.loads((Path(directory) / COUNTS_FILE).read_text(encoding="utf-8"))
        return cls(config, model_storage, resource, counts)

    def train(self, training_data: TrainingData) -> Resource:
        counts: Dict[str, Counter] = defaultdict(Counter)
        for example in training_data.intent_examples:
            for lemma in content_lemmas(example):
                counts[lemma][example.get(INTENT)] += 1
        self.counts = {lemma: dict(by_intent) for lemma, by_intent in counts.items()}
        with self.model_storage.write_to(self.resource) as directory:
            (Path(directory) / COUNTS_FILE).write_text(json.dumps(self.counts), encoding="utf-8")
        return self.resource

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = self._chosen(message)
            if intent is None or intent in self.unchecked:
                continue
            unlisted = self._unlisted_topic(intent, message)
            if unlisted is not None:
                override_intent(message, unlisted)
                continue
            if self._entity_answered(intent, message):
                continue
            if self._confidence(intent, message) >= self.config["max_confidence"]:
                continue
            uncovered = self.asked_elsewhere(intent, content_lemmas(message))
            if uncovered is not None:
                override_intent(message, uncovered)
        return messages

    def _entity_answered(self, intent: str, message: Message) -> bool:
        entity = self.config["entity_answered_intents"].get(intent)
        return entity is not None and any(e.get("entity") == entity for e in message.get(ENTITIES, []))

    def _unlisted_topic(self, intent: str, message: Message) -> Optional[str]:
        """The topic of an entity-answered intent whose message names only what the article does
        not list (an `unlisted_entities` entity, none of the answering one), else None."""
        answering = self.config["entity_answered_intents"].get(intent)
        named = {e.get("entity") for e in message.get(ENTITIES, [])}
        if answering is None or answering in named:
            return None
        return next(
            (topic for entity, topic in self.config["unlisted_entities"].items() if entity in named), None
        )

    @staticmethod
    def _chosen(message: Message) -> Optional[str]:
        """The predicted intent, or the likeliest one behind an `nlu_fallback`."""
        ranking = [
            r.get("name") for r in message.get(INTENT_RANKING_KEY, []) if r.get("name") != FALLBACK_INTENT
        ]
        predicted = (message.get(INTENT) or {}).get("name")
        return ranking[0] if predicted == FALLBACK_INTENT and ranking else predicted

    @staticmethod
    def _confidence(intent: str, message: Message) -> float:
        """The classifier's confidence in `intent` (0..1), from the intent ranking."""
        ranked = {r.get("name"): r.get("confidence") or 0.0 for r in message.get(INTENT_RANKING_KEY, [])}
        return float(ranked.get(intent, 0.0))

    def asked_elsewhere(self, intent: str, lemmas: Iterable[str]) -> Optional[str]:
        """The uncovered intent the question's unseen words point to, or None."""
        evidence: Counter = Counter()
        for lemma in set(lemmas) - set(self.config["ignored_words"]):
            # Conversation and safety intents are no answers: their words say nothing here.
            by_intent = {i: n for i, n in self.counts.get(lemma, {}).items() if i not in self.not_answers}
            total = sum(by_intent.values())
            if by_intent.get(intent) or total < self.config["min_examples"]:
                continue
            uncovered = {name: n for name, n in by_intent.items() if name in self.uncovered}
            if sum(uncovered.values()) / total >= self.config["min_share"]:
                best = max(uncovered, key=uncovered.__getitem__)
                evidence[best] += uncovered[best] / total
        return evidence.most_common(1)[0][0] if evidence else None
