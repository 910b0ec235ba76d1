"""The texts in replies.yml, filled in with the clinic's settings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Tuple

import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions.clinic import load_clinic
from actions.knowledge import load_knowledge
from actions.rendering import buttons_for

REPLIES_PATH = Path(__file__).resolve().with_name("replies.yml")


@lru_cache(maxsize=1)
def _texts() -> Dict[str, Any]:
    return yaml.safe_load(REPLIES_PATH.read_text(encoding="utf-8"))


def reply(name: str) -> str:
    return _texts()[name].format(**load_clinic().template_values())


@dataclass(frozen=True)
class Emergency:
    text: str
    numbers: Tuple[str, ...]  # to call, most important first


def red_flag_kinds() -> List[str]:
    return [kind for kind in _texts()["red_flags"] if kind != "unspecified"]


def emergencies(kinds: List[str]) -> List[Emergency]:
    """The emergency replies for these kinds, most urgent first (the order of replies.yml)."""
    flags = _texts()["red_flags"]
    values = load_clinic().template_values()
    chosen = [kind for kind in flags if kind in kinds] or ["unspecified"]
    return [
        Emergency(flags[kind]["text"].format(**values), tuple(values[name] for name in flags[kind]["call"]))
        for kind in chosen
    ]


def utter_with_starter_questions(dispatcher: CollectingDispatcher, name: str) -> None:
    """Sends a reply with the starter questions as buttons."""
    dispatcher.utter_message(text=reply(name), buttons=buttons_for(load_knowledge().starters))
