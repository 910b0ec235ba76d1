"""Conversation turns ("thanks", "where is that from?") keep a lower bar than answers.

The FallbackClassifier's threshold (config.yml) is set high to keep wrong medical answers out: an
answer the classifier is unsure of becomes a "did you mean". A conversation turn is no medical
statement, and a wrong guess costs little, while "did you mean" after "where is that from?"
breaks the conversation. So, right after the FallbackClassifier, an unclear message whose
likeliest intent is a conversation intent with at least `threshold` confidence gets that intent.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from nlu_components.overrides import override_intent
from nlu_components.stateless import StatelessComponent

FALLBACK_INTENT = "nlu_fallback"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class ConversationTurns(StatelessComponent):
    """An unclear message that is most likely a conversation turn gets that turn's intent."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"intents": [], "threshold": 0.45}  # threshold: classifier confidence, 0..1

    def __init__(self, config: Dict[str, Any]) -> None:
        self.intents = set(config["intents"])
        self.threshold = float(config["threshold"])

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> ConversationTurns:
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if (message.get(INTENT) or {}).get("name") != FALLBACK_INTENT:
                continue
            ranking = [r for r in message.get(INTENT_RANKING_KEY, []) if r.get("name") != FALLBACK_INTENT]
            if (
                ranking
                and ranking[0].get("name") in self.intents
                and ranking[0]["confidence"] >= self.threshold
            ):
                override_intent(message, ranking[0]["name"])
        return messages
