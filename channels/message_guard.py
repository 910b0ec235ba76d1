"""Checks a patient's message before any NLU runs: cleans it, bounds its length and masks the
personal details in it.

Rasa 3.6 stalls for ~20 s and exhausts memory on a 1 MB message, so long messages never reach
NLU; the patient is told why and how to go on instead. The texts are in channels/texts.yml.
Every channel builds its UserMessage from `guard(...).text`, so what Rasa parses, logs and keeps
in the tracker store is the masked text (channels/pii_masking.py): "my name is [person]".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import yaml

from actions.clinic import load_clinic
from channels import pii_masking
from nlu_components.normalization import normalize_text

pii_masking.prepare()  # when the Rasa server loads the channels, not on the first message

MAX_MESSAGE_CHARS = 2000
TEXTS_PATH = Path(__file__).resolve().with_name("texts.yml")


@lru_cache(maxsize=1)
def _texts() -> Dict[str, str]:
    return yaml.safe_load(TEXTS_PATH.read_text(encoding="utf-8"))


def channel_text(name: str, **values: Any) -> str:
    """The text `name` of channels/texts.yml with the clinic's placeholders and `values` filled in."""
    return " ".join(_texts()[name].split()).format(**load_clinic().template_values(), **values)


@dataclass(frozen=True)
class GuardedMessage:
    text: str
    reply: Optional[str] = None  # set when the message must not go to NLU: say this instead
    masked: Tuple[str, ...] = ()  # the kinds of personal details masked in `text` (never their values)


def guard(text: str) -> GuardedMessage:
    """The message in canonical form (nlu_components/normalization.py: NFKC, ASCII apostrophes,
    no lone surrogates, no control characters) with its personal details masked
    (channels/pii_masking.py), or the reply to send instead of running NLU."""
    cleaned = normalize_text(text)
    if not cleaned:
        return GuardedMessage(cleaned, channel_text("empty"))
    if len(cleaned) > MAX_MESSAGE_CHARS:
        return GuardedMessage(cleaned, channel_text("too_long", length=len(cleaned), limit=MAX_MESSAGE_CHARS))
    masked = pii_masking.mask_personal_details(cleaned)
    return GuardedMessage(masked.text, masked=masked.kinds)
