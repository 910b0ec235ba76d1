"""Language detector: a message not in English gets a short reply in its own language.

The assistant answers in English only (its one source, the clinic's article, is in English).
Language identification is `lingua` (lingua-language-detector: n-gram models shipped in its
wheel, accurate on short text), in two steps:
- deciding: English, or one of the languages the clinic's patients write most after it (~235 MB
  of models; with more languages in this step, English slang like "lol ok thx m8" reads as
  Turkish or Tagalog);
- naming: a neighbour language (German, Italian, Portuguese...; trigram models only, ~20 MB more)
  replaces that decision when the namer is sure of it: among the deciding languages alone, German
  reads as English or French and Japanese as nothing. A language without a reply of its own gets
  the English reply.
Short English messages with typos ("kyfoplasty wat iz it") look foreign to any detector, so a
message whose words are mostly English words (the spaCy pipeline's lemma table, both its forms
and their lemmas, and spaCy's English stop words) is English whatever the detector says.

A message in another language gets the entity `language` (ISO 639-1): the red-flag detector reads
it (phrase lists in that language), and the routing component then makes the intent
`other_language` unless the message is an emergency.
"""

from __future__ import annotations

import re
from difflib import get_close_matches
from typing import Container, Iterable, List, Optional, Set

import yaml
from lingua import Language, LanguageDetector, LanguageDetectorBuilder
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.lookups import Table
from spacy.tokens import Doc

from nlu_components.overrides import add_entities
from nlu_components.paths import project_path
from nlu_components.question_focus import FULL_TEXT, FULL_TEXT_DOC
from nlu_components.stateless import StatelessComponent

LANGUAGE_ENTITY = "language"
LANGUAGES = (
    Language.ENGLISH, Language.SPANISH, Language.CHINESE, Language.VIETNAMESE, Language.TAGALOG,
    Language.ARABIC, Language.FRENCH, Language.KOREAN, Language.RUSSIAN,
)  # fmt: skip
# Named, never deciding: languages close to the ones above or common among US patients.
NEIGHBOURS = (
    Language.GERMAN, Language.ITALIAN, Language.PORTUGUESE, Language.POLISH, Language.DUTCH,
    Language.TURKISH, Language.UKRAINIAN, Language.PERSIAN, Language.HINDI, Language.JAPANESE,
)  # fmt: skip
# Chosen on the other-language cases of tests/patient_questions/tuning.yml and the unit tests:
# a message whose words are at least this share (0..1) English words is English;
MIN_ENGLISH_SHARE = 0.5
# a Latin-script message of fewer words ("hola", "asdfgh jkl") is English too: too short to tell;
MIN_WORDS = 3
# another language needs this confidence (lingua's, 0..1) and more than English; below
# FOREIGN_SHARE of English words, its confidence among the other languages only.
MIN_CONFIDENCE = 0.5
FOREIGN_SHARE = 0.25
# The clinic's vocabulary: its words of at least MIN_DOMAIN_WORD letters that no English list has;
# a word of at least MIN_DOMAIN_PREFIX letters that starts one, or is this similar (difflib ratio,
# 0..1) to one, is English.
ARTICLE = "knowledge/article.yml"
ENTITY_PATTERNS = "spacy_pipeline/entity_patterns.yml"
MIN_DOMAIN_WORD = 6
MIN_DOMAIN_PREFIX = 5
TYPO_SIMILARITY = 0.9
# A neighbour language (below) overrides the decision only when the namer is this sure (0..1).
SURE_CONFIDENCE = 0.99


def build_detector() -> LanguageDetector:
    return LanguageDetectorBuilder.from_languages(*LANGUAGES).with_preloaded_language_models().build()


def build_namer() -> LanguageDetector:
    return (
        LanguageDetectorBuilder.from_languages(*LANGUAGES, *NEIGHBOURS)
        .with_preloaded_language_models()
        .with_low_accuracy_mode()
        .build()
    )


class EnglishWords:
    """`word in EnglishWords(table, domain)`: a form or a lemma of spaCy's English lemma table, a
    stop word, or a word of the clinic's own vocabulary (`domain`: "kyphoplasty", "vertebrae"),
    its start ("kypho", "vertebro") or a typo of it ("kyphoplsty", "vertabroplasty"); without
    these, "kypho vs vertebro" reads as Spanish. The typo test is difflib's ratio (0..1), which
    the standard library has; it runs only on words of no English list."""

    def __init__(self, lemma_table: Table, domain: Iterable[str] = ()) -> None:
        self.table = lemma_table
        self.lemmas = set(lemma_table.values())
        self.domain = sorted(
            word for word in set(domain) if len(word) >= MIN_DOMAIN_WORD and not self.listed(word)
        )

    def __contains__(self, word: str) -> bool:
        return self.listed(word) or self.in_domain(word)

    def listed(self, word: str) -> bool:
        return word in STOP_WORDS or word in self.lemmas or word in self.table

    def in_domain(self, word: str) -> bool:
        if len(word) < MIN_DOMAIN_PREFIX:
            return False
        return any(known.startswith(word) for known in self.domain) or bool(
            get_close_matches(word, self.domain, n=1, cutoff=TYPO_SIMILARITY)
        )


def domain_words() -> Set[str]:
    """The words of the clinic's article (knowledge/article.yml) and of the entity ruler's
    concepts (spacy_pipeline/entity_patterns.yml: "spinal_tumor", not its misspellings, which
    would make "Kyphoplastie" English), lowercase."""
    article = yaml.safe_load(project_path(ARTICLE).read_text(encoding="utf-8"))["sentences"]
    words = {word for sentence in article for word in re.findall(r"[a-z]+", sentence["text"].lower())}
    patterns = yaml.safe_load(project_path(ENTITY_PATTERNS).read_text(encoding="utf-8"))
    return words | {
        word for concepts in patterns.values() for concept in concepts for word in concept.split("_")
    }


class LanguageIdentifier:
    """Tells the language of a message: None for English, else an ISO 639-1 code ("es")."""

    def __init__(self, english_words: Container[str]) -> None:
        self.english_words = english_words
        self.detector = build_detector()
        self.namer = build_namer()

    @staticmethod
    def latin(doc: Doc) -> bool:
        """Most of the message's letters are ASCII (not Chinese, Arabic, Cyrillic...)."""
        letters = [c for c in doc.text if c.isalpha()]
        return bool(letters) and sum(c.isascii() for c in letters) >= len(letters) / 2

    def english_share(self, doc: Doc) -> float:
        """The share (0..1) of the message's words that are English words; 0.0 when it is not in
        the Latin script."""
        if not self.latin(doc):
            return 0.0
        named = {t.i for ent in doc.ents for t in ent}  # the entity ruler's conditions, procedures
        words = [t for t in doc if t.is_alpha and len(t) > 1]
        english = sum(t.i in named or t.lower_ in self.english_words for t in words)
        return english / len(words) if words else 1.0

    def language(self, text: str, doc: Doc) -> Optional[str]:
        share = self.english_share(doc)
        if share >= MIN_ENGLISH_SHARE:
            return None
        if self.latin(doc) and sum(t.is_alpha and len(t) > 1 for t in doc) < MIN_WORDS:
            return None
        text = text.lower()
        found = self.decided(text, share)
        # Among the deciding languages a German message is likeliest English or French.
        neighbour = self.neighbour(text)
        if neighbour is not None:
            found = neighbour
        return found.iso_code_639_1.name.lower() if found is not None else None

    def decided(self, text: str, share: float) -> Optional[Language]:
        """The language of `LANGUAGES` the message is in, None for English or too unsure."""
        confidences = {c.language: c.value for c in self.detector.compute_language_confidence_values(text)}
        english = confidences.pop(Language.ENGLISH, 0.0)
        if not confidences:
            return None
        best = max(confidences, key=confidences.__getitem__)
        confidence = confidences[best]
        if share < FOREIGN_SHARE:  # hardly an English word: how sure it is among the others
            confidence, english = confidence / max(1.0 - english, 1e-9), 0.0
        return best if confidence >= MIN_CONFIDENCE and confidence > english else None

    def neighbour(self, text: str) -> Optional[Language]:
        """The neighbour language the message is in, if the namer is SURE_CONFIDENCE sure of it
        (its trigram models alone are unreliable on short text); else None."""
        ranked = self.namer.compute_language_confidence_values(text)
        if ranked and ranked[0].language in NEIGHBOURS and ranked[0].value >= SURE_CONFIDENCE:
            return ranked[0].language
        return None


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False, model_from="SpacyNLP"
)
class LanguageDetectorComponent(StatelessComponent):
    """Adds the `language` entity to a message that is not in English."""

    def __init__(self) -> None:
        self._identifier: Optional[LanguageIdentifier] = None

    def process(self, messages: List[Message], model: SpacyModel) -> List[Message]:
        if self._identifier is None:
            table = model.model.get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
            self._identifier = LanguageIdentifier(EnglishWords(table, domain_words()))
        for message in messages:
            doc = message.get(FULL_TEXT_DOC) or message.get(SPACY_DOCS[TEXT])
            text = message.get(FULL_TEXT) or message.get(TEXT)
            if doc is None or not text:
                continue
            code = self._identifier.language(text, doc)
            if code is not None:
                mark_language(message, code)
        return messages


def mark_language(message: Message, code: str) -> None:
    add_entities(message, [{"entity": LANGUAGE_ENTITY, "value": code, "extractor": "LanguageDetector"}])
