"""Checks a patient's message before any NLU runs: cleans it, and bounds its length.

Rasa 3.6 stalls for ~20 s and exhausts memory on a 1 MB message, so long messages never reach
NLU; the patient is told why and how to go on instead. The texts are in channels/texts.yml.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Optional

import yaml

from actions.clinic import load_clinic
from nlu_components.normalization import normalize_text

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


def guard(text: str) -> GuardedMessage:
    """The message in canonical form (nlu_components/normalization.py: NFKC, ASCII apostrophes,
    no lone surrogates, no control characters), or the reply to send instead of running NLU."""
    cleaned = normalize_text(text)
    if not cleaned:
        return GuardedMessage(cleaned, channel_text("empty"))
    if len(cleaned) > MAX_MESSAGE_CHARS:
        return GuardedMessage(cleaned, channel_text("too_long", length=len(cleaned), limit=MAX_MESSAGE_CHARS))
    return GuardedMessage(cleaned)
