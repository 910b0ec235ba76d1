"""Entities from the project's spaCy entity ruler, with normalised values.

Rasa's SpacyEntityExtractor reports the matched text ("brittle bones"); the answers need the
concept ("osteoporosis"), which the ruler stores as each pattern's id. It also re-runs spaCy on
every message; this reads the doc SpacyNLP already made, of the whole message: a condition named
in the story before the question counts (QuestionFocus keeps that doc aside).
"""

from __future__ import annotations

from typing import List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import SPACY_DOCS
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu_components.question_focus import FULL_TEXT_DOC
from nlu_components.stateless import StatelessComponent

# spaCy label -> Rasa entity name (domain.yml)
ENTITY_NAMES = {
    "CONDITION": "condition",
    "UNLISTED_CONDITION": "unlisted_condition",
    "PROCEDURE": "procedure",
    "OTHER_PROCEDURE": "other_procedure",
}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class SpacyRulerEntityExtractor(StatelessComponent):
    """Turns the entity ruler's spans into Rasa entities whose value is the concept id."""

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            doc = message.get(FULL_TEXT_DOC) or message.get(SPACY_DOCS[TEXT])
            if doc is None:
                continue
            entities = [
                {
                    "entity": ENTITY_NAMES[ent.label_],
                    "value": ent.ent_id_,
                    "start": ent.start_char,
                    "end": ent.end_char,
                    "extractor": type(self).__name__,
                }
                for ent in doc.ents
                if ent.label_ in ENTITY_NAMES
            ]
            message.set(ENTITIES, message.get(ENTITIES, []) + entities, add_to_output=True)
        return messages
