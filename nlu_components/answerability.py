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
at least `min_share` of them uncovered and `min_intent_share` of one uncovered intent;
conversation and safety intents do not count). The
uncovered intent with the most evidence replaces the prediction, with
confidence 1.0: the question asks what the article does not say. Costs well under a
millisecond a message (set lookups on the message's words).

An unclear message (still behind an `nlu_fallback` after that) gets a second opinion for the
action that replies to it (actions/guidance.py): the intents of its nearest training examples
(MiniLM sentence features, cosine, the `nearest_examples` nearest among the answers' and the
uncovered intents' examples), each with its similarity-weighted share, in the message's
`nearest_examples` (`[{"name": str, "share": 0..1}]`, largest first, shares summing to 1).
"Will I feel the needle going in?" sits among anaesthesia questions, not among the sedation
answer's. One matrix-vector product over the training examples' features (about 9,000 x 384).

A third opinion for the same messages: how likely (0..1, in `uncovered_probability`) the
question is one the article does not answer, from a logistic regression (scikit-learn) on the
sentence features of the answers' examples against the uncovered intents'. It reads the whole
direction of a question ("what brand...", "how long do people live with...") where the nearest
examples only count neighbours: on a fresh probe set (the eleventh, 160 messages) its AUC between
answerable and uncovered unclear messages was 0.92. One dot product.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Set

import numpy as np
import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.linear_model import LogisticRegression
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.tokens import Doc

from nlu_components.overrides import override_intent
from nlu_components.paths import project_path
from nlu_components.question_focus import FULL_TEXT_DOC

FALLBACK_INTENT = "nlu_fallback"
NEAREST_EXAMPLES = "nearest_examples"  # message key, in the parse data
UNCOVERED_PROBABILITY = "uncovered_probability"  # message key, in the parse data
COUNTS_FILE = "intent_lemmas.json"
EXAMPLES_FILE = "example_features.npz"


def sentence_feature(message: Message) -> Optional[np.ndarray]:
    """The message's dense sentence feature (MiniLM mean pooling), unit length, shape (384,),
    or None for a message without one (a button payload that skipped NLU, an empty text)."""
    _, sentence = message.get_dense_features(TEXT)
    if sentence is None:
        return None
    vector = np.asarray(sentence.features, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else None


@dataclass(frozen=True)
class Examples:
    """The training examples the nearest-examples opinion looks among: `features` (n, d) unit
    vectors, `intents` (n,) their intent names."""

    features: np.ndarray
    intents: np.ndarray

    @classmethod
    def empty(cls) -> Examples:
        return cls(np.zeros((0, 0), dtype=np.float32), np.array([], dtype=str))


@dataclass(frozen=True)
class UncoveredScorer:
    """A logistic regression over sentence features: `weights` (d,), `bias`; the probability that
    a question is one the article does not answer."""

    weights: np.ndarray
    bias: float

    @classmethod
    def fit(cls, examples: Examples, uncovered: Set[str], regularisation: float) -> Optional[UncoveredScorer]:
        """Fitted on `examples` (uncovered intents against the rest, classes weighted to balance),
        with scikit-learn's inverse regularisation strength `regularisation`; None without
        examples of both kinds."""
        labels = np.isin(examples.intents, list(uncovered))
        if labels.all() or not labels.any():
            return None
        model = LogisticRegression(C=regularisation, class_weight="balanced", max_iter=2000)
        model.fit(examples.features, labels)
        return cls(model.coef_[0].astype(np.float32), float(model.intercept_[0]))

    def probability(self, vector: np.ndarray) -> float:
        """0..1 for a unit sentence feature of shape (d,)."""
        return float(1.0 / (1.0 + np.exp(-(float(self.weights @ vector) + self.bias))))


# "...recovery from that?", "after that one": the question points back at what the story named.
POINTS_BACK = re.compile(r"\b(from|after|for|of)\s+that\b", re.IGNORECASE)


def operation_labels(doc: Doc) -> Set[str]:
    """The entity labels of `doc` but for plain "surgery" (the id the entity ruler gives it)."""
    return {ent.label_ for ent in doc.ents if ent.ent_id_ != "surgery"}


def content_lemmas(message: Message) -> Set[str]:
    """The lemmas that carry what the message's question asks (its text, as QuestionFocus left
    it): no stop words, no short words, and no words of a condition or procedure the entity
    ruler found ("thin bones" names osteoporosis, whatever else "thin" is typical of)."""
    doc: Optional[Doc] = message.get(SPACY_DOCS[TEXT])
    if doc is None:
        return set()
    in_entities = {t.i for ent in doc.ents for t in ent}
    # A lemma that is no word ("first" -> "1" in spaCy's lookup table) says nothing of the focus.
    return {
        t.lemma_
        for t in doc
        if t.is_alpha
        and t.lemma_.isalpha()
        and len(t) > 2
        and t.i not in in_entities
        and t.lemma_ not in STOP_WORDS
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
            # A question that names another operation (this spaCy label) and not this one, and
            # compares nothing, asks about that operation ("how long is recovery from a
            # vasectomy?"): it is this intent, unless its answer is itself a comparison.
            "other_procedure_label": "OTHER_PROCEDURE",
            "procedure_label": "PROCEDURE",
            "other_procedure_intent": "out_of_scope",
            "comparison_intents": [],
            "comparison_words": [],
            "min_examples": 3,
            "min_share": 0.8,
            # ... and at least this share of them one uncovered intent's: a word spread over
            # many ("injection": osteoporosis medicines, alternatives, anaesthesia...) is typical
            # of none of them.
            "min_intent_share": 0.0,
            # A covered answer the classifier is at least this sure of is kept: its examples
            # already hold the question's wording, and an unseen word is then more often a typo
            # ("wen", "aftr") than an uncovered detail. 1.0 checks every answer.
            "max_confidence": 1.0,
            # Words of several senses that decide nothing ("in general" is not "general anaesthesia").
            "ignored_words": [],
            # How many nearest training examples give their intents to an unclear message.
            "nearest_examples": 10,
            # Inverse regularisation strength of the uncovered-question scorer (scikit-learn's C).
            "uncovered_scorer_c": 3.0,
        }

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        counts: Dict[str, Dict[str, int]],
        examples: Optional[Examples] = None,
        scorer: Optional[UncoveredScorer] = None,
    ) -> None:
        self.config = config
        self.model_storage = model_storage
        self.resource = resource
        self.counts = counts  # lemma -> intent -> number of examples with it
        self.examples = examples or Examples.empty()
        self.scorer = scorer
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
        return cls(config, model_storage, resource, {}, Examples.empty())

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
            examples = Examples.empty()  # a model trained before they were kept: no second opinion
            scorer = None  # ... nor a third
            if (Path(directory) / EXAMPLES_FILE).is_file():
                with np.load(Path(directory) / EXAMPLES_FILE) as stored:
                    examples = Examples(stored["features"].astype(np.float32), stored["intents"])
                    if "scorer_weights" in stored:
                        scorer = UncoveredScorer(stored["scorer_weights"], float(stored["scorer_bias"]))
        return cls(config, model_storage, resource, counts, examples, scorer)

    def train(self, training_data: TrainingData) -> Resource:
        counts: Dict[str, Counter] = defaultdict(Counter)
        features, intents = [], []
        for example in training_data.intent_examples:
            for lemma in content_lemmas(example):
                counts[lemma][example.get(INTENT)] += 1
            vector = sentence_feature(example)
            if vector is not None and example.get(INTENT) not in self.not_answers:
                features.append(vector)
                intents.append(example.get(INTENT))
        self.counts = {lemma: dict(by_intent) for lemma, by_intent in counts.items()}
        if features:
            self.examples = Examples(np.stack(features), np.array(intents))
            regularisation = self.config["uncovered_scorer_c"]
            self.scorer = UncoveredScorer.fit(self.examples, self.uncovered, regularisation)
        scorer = {}
        if self.scorer is not None:
            scorer = {"scorer_weights": self.scorer.weights, "scorer_bias": np.array(self.scorer.bias)}
        with self.model_storage.write_to(self.resource) as directory:
            (Path(directory) / COUNTS_FILE).write_text(json.dumps(self.counts), encoding="utf-8")
            # float16 halves the model's share (about 7 MB); the vote needs no more precision.
            np.savez(
                Path(directory) / EXAMPLES_FILE,
                features=self.examples.features.astype(np.float16),
                intents=self.examples.intents,
                **scorer,
            )
        return self.resource

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = self._chosen(message)
            if intent is None or intent in self.unchecked:
                continue
            elsewhere = self._unlisted_topic(intent, message) or self._other_procedure(intent, message)
            if elsewhere is not None:
                override_intent(message, elsewhere)
                continue
            if self._entity_answered(intent, message):
                continue
            if self._confidence(intent, message) >= self.config["max_confidence"]:
                continue
            uncovered = self.asked_elsewhere(intent, content_lemmas(message))
            if uncovered is not None:
                override_intent(message, uncovered)
        for message in messages:
            if (message.get(INTENT) or {}).get("name") == FALLBACK_INTENT:
                message.set(NEAREST_EXAMPLES, self.nearest_intents(message), add_to_output=True)
                vector = sentence_feature(message)
                if vector is not None and self.scorer is not None:
                    probability = round(self.scorer.probability(vector), 3)
                    message.set(UNCOVERED_PROBABILITY, probability, add_to_output=True)
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

    def _other_procedure(self, intent: str, message: Message) -> Optional[str]:
        """`other_procedure_intent` for a question (the text QuestionFocus left) that names
        another operation, or points back at one the whole message names ("mum needs a hip
        replacement, how long is recovery from that?"), and not this one (a `procedure_label`
        entity other than plain "surgery"), and no comparison, asked as an intent that is not a
        comparison; else None."""
        doc: Optional[Doc] = message.get(SPACY_DOCS[TEXT])
        if doc is None or intent in self.config["comparison_intents"]:
            return None
        labels = operation_labels(doc)
        whole: Optional[Doc] = message.get(FULL_TEXT_DOC)
        if (
            self.config["other_procedure_label"] not in labels
            and whole is not None
            and POINTS_BACK.search(doc.text)
        ):
            labels = operation_labels(whole)
        if self.config["other_procedure_label"] not in labels or self.config["procedure_label"] in labels:
            return None
        if any(t.lower_ in self.config["comparison_words"] for t in doc):
            return None
        return self.config["other_procedure_intent"]

    @staticmethod
    def _chosen(message: Message) -> Optional[str]:
        """The predicted intent, or the likeliest one behind an `nlu_fallback`."""
        ranking = [
            r.get("name") for r in message.get(INTENT_RANKING_KEY, []) if r.get("name") != FALLBACK_INTENT
        ]
        predicted = (message.get(INTENT) or {}).get("name")
        return ranking[0] if predicted == FALLBACK_INTENT and ranking else predicted

    def nearest_intents(self, message: Message) -> List[Dict[str, Any]]:
        """The intents of the message's `nearest_examples` nearest training examples, as
        `[{"name", "share"}]`: each intent's share (0..1, rounded to 3 places) of their cosine
        similarity, largest first; [] for a message without a sentence feature."""
        vector = sentence_feature(message)
        if vector is None or not len(self.examples.intents):
            return []
        similarity = self.examples.features @ vector
        k = min(self.config["nearest_examples"], len(similarity))
        weights: Counter = Counter()
        for index in np.argpartition(-similarity, k - 1)[:k]:
            weights[str(self.examples.intents[index])] += max(float(similarity[index]), 0.0)
        total = sum(weights.values())
        if total <= 0:
            return []
        return [{"name": name, "share": round(w / total, 3)} for name, w in weights.most_common()]

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
            if sum(uncovered.values()) / total < self.config["min_share"]:
                continue
            best = max(uncovered, key=uncovered.__getitem__)
            if uncovered[best] / total >= self.config["min_intent_share"]:
                evidence[best] += uncovered[best] / total
        return evidence.most_common(1)[0][0] if evidence else None
