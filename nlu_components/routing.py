"""Last in the pipeline: what the message is about, when a safety rule overrides the classifier.

Runs after the FallbackClassifier, so that an override is never taken for an unclear message,
and decides in this order:
1. An emergency: `red_flag` entities (the red-flag detector), or DIET's own `red_flag` intent
   still at the top of the ranking, which that detector let stand. Nothing outranks it.
2. Another language: the `language` entity (the language detector) -> `other_language`.
3. After the procedure: a message that says it happened and how the patient feels
   (nlu_components/after_care.py) -> `after_care`, unless it is small talk; and an unclear
   message whose likeliest intent is `after_care`: for someone who may have had the procedure,
   "call the clinic today, and these are the signs to call 911 for" is the safe reply, safer
   than "did you mean". Not when the message says the procedure is still to come, and nowhere
   that it happened: "I'm having it next month, how long is the recovery?" is a question before
   it, and stays unclear.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu_components.after_care import AfterCareFinder
from nlu_components.language import LANGUAGE_ENTITY
from nlu_components.overrides import override_intent
from nlu_components.question_focus import FULL_TEXT_DOC
from nlu_components.red_flags import RED_FLAG_ENTITY, RED_FLAG_INTENT
from nlu_components.stateless import StatelessComponent

FALLBACK_INTENT = "nlu_fallback"
OTHER_LANGUAGE_INTENT = "other_language"
AFTER_CARE_INTENT = "after_care"
# Small talk keeps its intent even after the procedure ("thanks, I'm sore but fine").
SMALL_TALK = {"greet", "goodbye", "thank", "bot_challenge", "ask_sources"}


def _entity_values(message: Message, name: str) -> List[Any]:
    return [e.get("value") for e in message.get(ENTITIES, []) if e.get("entity") == name]


def _top_intent(message: Message) -> Optional[str]:
    """The likeliest intent, looking through an `nlu_fallback` to the classifier's ranking."""
    ranking: List[Dict[str, Any]] = message.get(INTENT_RANKING_KEY, [])
    names = [r.get("name") for r in ranking if r.get("name") != FALLBACK_INTENT]
    return names[0] if names else None


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False, model_from="SpacyNLP"
)
class SafetyRouting(StatelessComponent):
    """Overrides the intent for emergencies, other languages and after-care, in that order."""

    def __init__(self) -> None:
        self._after_care: Optional[AfterCareFinder] = None

    def process(self, messages: List[Message], model: SpacyModel) -> List[Message]:
        if self._after_care is None:
            self._after_care = AfterCareFinder(model.model)
        for message in messages:
            intent = self.route(message)
            if intent is not None:
                override_intent(message, intent)
        return messages

    def route(self, message: Message) -> Optional[str]:
        """The overriding intent, or None to keep the classifier's."""
        if _entity_values(message, RED_FLAG_ENTITY) or _top_intent(message) == RED_FLAG_INTENT:
            return RED_FLAG_INTENT
        if _entity_values(message, LANGUAGE_ENTITY):
            return OTHER_LANGUAGE_INTENT
        predicted = (message.get(INTENT) or {}).get("name")
        doc = message.get(FULL_TEXT_DOC) or message.get(SPACY_DOCS[TEXT])
        if predicted not in SMALL_TALK and doc is not None and self._after_care.describes_after_care(doc):
            return AFTER_CARE_INTENT
        if (
            predicted == FALLBACK_INTENT
            and _top_intent(message) == AFTER_CARE_INTENT
            and not (doc is not None and self._after_care.procedure_ahead(doc))
        ):
            return AFTER_CARE_INTENT
        return None
