"""The red-flag sets (tests/red_flags/) sent to the running assistant: emergencies must get the
emergency reply first; lookalikes must get their question answered or declined, never only the
emergency text."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Dict, List

import yaml

from evaluation.dialogue_cases import Chat


def first_kind(messages: List[Dict]) -> str:
    custom = messages[0].get("custom") if messages else None
    return custom.get("kind", "other") if isinstance(custom, dict) else "other"


def judge_red_flags(path: Path, chat: Chat, limit: int = 10_000) -> Dict[str, float]:
    """`{emergency_recall, lookalike_false_alarms}` (shares, 0..1) over at most `limit` messages
    of each part, each sent in a new conversation through the widget channel (`chat`)."""
    sets = yaml.safe_load(path.read_text(encoding="utf-8"))

    def kinds(entries: List[Dict]) -> List[str]:
        sample = entries[:: max(1, len(entries) // limit)][:limit]
        return [first_kind(chat(uuid.uuid4().hex, entry["text"])) for entry in sample]

    emergencies, lookalikes = kinds(sets["emergencies"]), kinds(sets["lookalikes"])
    return {
        "emergency_recall": round(emergencies.count("emergency") / len(emergencies), 4),
        "lookalike_false_alarms": round(lookalikes.count("emergency") / len(lookalikes), 4),
    }
