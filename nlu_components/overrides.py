"""How the rule-based components (after-care, language, red flags) overrule the classifier."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message


def override_intent(message: Message, name: str) -> None:
    """Makes `name` the message's intent (confidence 1.0), first in a ranking that keeps the
    classifier's other intents in their order."""
    intent = {"name": name, "confidence": 1.0}
    others = [r for r in message.get(INTENT_RANKING_KEY, []) if r.get("name") != name]
    message.set(INTENT, intent, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [intent, *others], add_to_output=True)


def add_entities(message: Message, entities: List[Dict[str, Any]]) -> None:
    if entities:
        message.set(ENTITIES, [*message.get(ENTITIES, []), *entities], add_to_output=True)
