"""Does an answer contain what was asked? The part of the check that needs the answers' text.

A question that asks for a quantity ("how many cuts?", "what percentage does it work for?", "how
many minutes does the cement take?") is not answered by a text that gives none, however close
its topic: the reply says plainly that the article gives no number, and quotes what it does
say. (The NLU part, nlu_components/answerability.py, catches questions whose words belong to a
topic the article does not cover.)
"""

from __future__ import annotations

import re
from typing import Sequence

from actions.knowledge import Answer

# "How many", "how often", "how likely", "what percentage", "what are the chances", "success
# rate", "in minutes/hours" ("how much" is left out: "how much downtime?" asks how long, not a count).
ASKS_FOR_NUMBER = re.compile(
    r"\bhow\s+(many|often|likely)\b"
    r"|\bwhat\s+(percent|percentage|proportion|fraction|share|odds|chance|chances|rate|number)\b"
    r"|\bwhat\s+(are|is)\s+the\s+(odds|chances?|rates?|numbers?|statistics|stats)\b"
    r"|\b(success|failure|complication|risk)\s+rates?\b|\bpercent(age)?\b|%"
    r"|\b(in|how many)\s+(minutes|hours|mins|hrs)\b",
    re.IGNORECASE,
)
NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|twenty|hundred|half|once|twice)\b",
    re.IGNORECASE,
)


def asks_for_number(question: str) -> bool:
    return bool(ASKS_FOR_NUMBER.search(question))


def gives_number(answers: Sequence[Answer]) -> bool:
    return any(NUMBER.search(answer.text) for answer in answers)
