"""Puts every message in one canonical form before anything reads it, and keeps typed text from
posing as a button payload.

- Unicode NFKC: full-width letters ("I can't breathe" typed as U+FF29 U+FF43...), ligatures and
  compatibility forms become plain letters, so patterns and models see what the patient meant.
- Phones type curly apostrophes and quotes (U+2019 in "can't"): they become ASCII, as in the
  training data.
- A lone UTF-16 surrogate (half of a cut-off emoji, `"\\ud83d"`) makes spaCy's tokenizer raise,
  and characters the MiniLM tokenizer silently drops (U+FFFD, zero-width and other format
  characters) leave a spaCy token without word pieces, which makes DIET raise: they are removed.
  Control characters become spaces.
- Rasa treats a message that starts with `/` as a payload (`/intent{"entity": "value"}`) and
  replaces the NLU result with it, red-flag detection included. The channels let such a text
  through only when it is the payload of a button the assistant offered
  (channels/button_payloads.py); here, the second line of defence, only the shape of our
  buttons' payloads may do that (`is_exact_payload`): an intent of the model's domain, then
  nothing or a JSON object of the domain's entities with identifier-like string values, nothing
  after it. Any other leading `/` is dropped so the text goes through NLU like any message.
  The domain is the one in the model (the resource Rasa's DomainProvider writes; read once when
  the model loads); without it (training, unit use) only the shape is checked.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, List, Optional

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.domain import Domain
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

# Control characters (NUL, escapes...) except tab and newline.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
SURROGATES = re.compile(r"[\ud800-\udfff]")
TYPOGRAPHIC = str.maketrans({"’": "'", "‘": "'", "‛": "'", "′": "'", "`": "'", "“": '"', "”": '"', "„": '"'})

logger = logging.getLogger(__name__)

PAYLOAD = re.compile(r"/(?P<intent>[a-z_]{1,64})(?P<entities>\{.*\})?", re.DOTALL)
ENTITY_VALUE = re.compile(r"[a-z_]{1,64}")
DOMAIN_RESOURCE = Resource("domain_provider")  # where Rasa's DomainProvider keeps the model's domain


@dataclass(frozen=True)
class KnownNames:
    """The intents and entities of a domain."""

    intents: FrozenSet[str]
    entities: FrozenSet[str]

    @classmethod
    def of(cls, domain: Domain) -> KnownNames:
        return cls(frozenset(domain.intents), frozenset(domain.entities))


def known_names(model_storage: ModelStorage) -> Optional[KnownNames]:
    """The model's intents and entities, or None while there is no domain in `model_storage`
    (during training, before the domain is stored)."""
    try:
        with model_storage.read_from(DOMAIN_RESOURCE) as directory:
            return KnownNames.of(Domain.from_path(directory))
    except Exception as error:  # no domain resource (yet): shape checks only
        logger.debug("no domain in the model storage (%s): payload shapes checked only", type(error).__name__)
        return None


def normalize_text(text: str) -> str:
    """The canonical form of a message (str -> str); idempotent."""
    text = unicodedata.normalize("NFKC", SURROGATES.sub("", text)).translate(TYPOGRAPHIC)
    text = "".join(c for c in text if c != "\ufffd" and unicodedata.category(c) != "Cf")
    return CONTROL_CHARACTERS.sub(" ", text).strip()


def is_exact_payload(text: str, known: Optional[KnownNames] = None) -> bool:
    """True for `/intent` or `/intent{"entity": "value", ...}` with identifier-like names and
    string values only, the shape of the payloads the assistant's buttons send, and, if `known`
    is given, an intent and entities of the domain."""
    match = PAYLOAD.fullmatch(text)
    if match is None or (known is not None and match["intent"] not in known.intents):
        return False
    if match["entities"] is None:
        return True
    try:
        entities = json.loads(match["entities"])
    except json.JSONDecodeError:
        return False
    return isinstance(entities, dict) and all(
        isinstance(key, str)
        and ENTITY_VALUE.fullmatch(key) is not None
        and (known is None or key in known.entities)
        and isinstance(value, str)
        and ENTITY_VALUE.fullmatch(value) is not None
        for key, value in entities.items()
    )


def guarded_text(text: str, known: Optional[KnownNames] = None) -> str:
    """The normalised text, with a leading `/` removed unless the text is an exact payload."""
    text = normalize_text(text)
    if text.startswith("/") and not is_exact_payload(text, known):
        return text.lstrip("/ \t\n")
    return text


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class MessageNormalizer(GraphComponent):
    """First in the pipeline: every later component reads the guarded, normalised text."""

    def __init__(self, known: Optional[KnownNames] = None) -> None:
        self.known = known

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MessageNormalizer:
        return cls(known_names(model_storage))

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str):
                message.set(TEXT, guarded_text(text, self.known))
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data
