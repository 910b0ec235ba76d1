"""Checks a patient's message before any NLU runs: cleans it, and bounds its length.

Rasa 3.6 stalls for ~20 s and exhausts memory on a 1 MB message, so long messages never reach
NLU; the patient is told why and how to go on instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from nlu_components.normalization import normalize_text

MAX_MESSAGE_CHARS = 2000


@dataclass(frozen=True)
class GuardedMessage:
    text: str
    reply: Optional[str] = None  # set when the message must not go to NLU: say this instead


def guard(text: str, emergency_number: str) -> GuardedMessage:
    """The message in canonical form (nlu_components/normalization.py: NFKC, ASCII apostrophes,
    no lone surrogates, no control characters), or the reply to send instead of running NLU."""
    cleaned = normalize_text(text)
    if not cleaned:
        return GuardedMessage(cleaned, "I didn't get a message. Please type your question about kyphoplasty.")
    if len(cleaned) > MAX_MESSAGE_CHARS:
        return GuardedMessage(
            cleaned,
            f"Your message is too long for me ({len(cleaned):,} characters). Please send your "
            f"question in a shorter message, up to {MAX_MESSAGE_CHARS:,} characters. "
            f"If this is an emergency, call {emergency_number} now.",
        )
    return GuardedMessage(cleaned)
