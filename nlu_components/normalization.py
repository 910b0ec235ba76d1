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
  replaces the NLU result with it, red-flag detection included. Only the exact payloads our
  buttons send may do that (`is_exact_payload`); any other leading `/` is dropped so the text
  goes through NLU like any message.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.stateless import StatelessComponent

# Control characters (NUL, escapes...) except tab and newline.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
SURROGATES = re.compile(r"[\ud800-\udfff]")
TYPOGRAPHIC = str.maketrans({"’": "'", "‘": "'", "‛": "'", "′": "'", "`": "'", "“": '"', "”": '"', "„": '"'})

PAYLOAD = re.compile(r"^/(?P<intent>[a-z_]{1,64})(?P<entities>\{.*\})?$")
ENTITY_VALUE = re.compile(r"^[a-z_]{1,64}$")


def normalize_text(text: str) -> str:
    """The canonical form of a message (str -> str); idempotent."""
    text = unicodedata.normalize("NFKC", SURROGATES.sub("", text)).translate(TYPOGRAPHIC)
    text = "".join(c for c in text if c != "\ufffd" and unicodedata.category(c) != "Cf")
    return CONTROL_CHARACTERS.sub(" ", text).strip()


def is_exact_payload(text: str) -> bool:
    """True for `/intent` or `/intent{"entity": "value", ...}` with identifier-like names and
    values only, the shape of the payloads the assistant's buttons send."""
    match = PAYLOAD.match(text)
    if match is None:
        return False
    if match["entities"] is None:
        return True
    try:
        entities = json.loads(match["entities"])
    except json.JSONDecodeError:
        return False
    return isinstance(entities, dict) and all(
        isinstance(key, str)
        and ENTITY_VALUE.match(key)
        and isinstance(value, str)
        and ENTITY_VALUE.match(value)
        for key, value in entities.items()
    )


def guarded_text(text: str) -> str:
    """The normalised text, with a leading `/` removed unless the text is an exact payload."""
    text = normalize_text(text)
    if text.startswith("/") and not is_exact_payload(text):
        return text.lstrip("/ \t\n")
    return text


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class MessageNormalizer(StatelessComponent):
    """First in the pipeline: every later component reads the guarded, normalised text."""

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str):
                message.set(TEXT, guarded_text(text))
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data
