"""Entities from the project's spaCy entity ruler, with normalised values.

Rasa's SpacyEntityExtractor reports the matched text ("brittle bones"); the answers need the
concept ("osteoporosis"), which the ruler stores as each pattern's id. It also re-runs spaCy on
every message; this reads the doc SpacyNLP already made, of the whole message: a condition named
in the story before the question counts (QuestionFocus keeps that doc aside). A condition the
message denies beside one it does not ("bones are normal, no osteoporosis, it's from the
crash") is no entity: NegEx (negspacy) with the red flags' termset of patients' denials. When
every condition named reads as denied, all are kept: NegEx also reads "is it not used for
osteoporosis?" and "the doctor isn't sure if it's myeloma" as denials.
"""

from __future__ import annotations

from typing import List, Optional

from negspacy.negation import Negex
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from spacy.tokens import Doc, Span

from nlu_components.question_focus import FULL_TEXT_DOC
from nlu_components.red_flags import negated_termset
from nlu_components.stateless import StatelessComponent

# spaCy label -> Rasa entity name (domain.yml)
ENTITY_NAMES = {
    "CONDITION": "condition",
    "UNLISTED_CONDITION": "unlisted_condition",
    "PROCEDURE": "procedure",
    "OTHER_PROCEDURE": "other_procedure",
}
# Labels whose denial drops them ("no osteoporosis"); a denied operation is still the subject.
DENIABLE = ["CONDITION", "UNLISTED_CONDITION"]
# The fracture every listed condition leads to. Rasa fills the `condition` slot with the last value
# a message names, so it comes first: "myeloma and two collapsed vertebrae" is remembered as myeloma.
GENERIC_CONDITION = "compression_fracture"
NEGATED = "condition_negated"  # the span extension negspacy sets


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False, model_from="SpacyNLP"
)
class SpacyRulerEntityExtractor(StatelessComponent):
    """Turns the entity ruler's spans into Rasa entities whose value is the concept id."""

    def __init__(self) -> None:
        self._negex: Optional[Negex] = None

    def process(self, messages: List[Message], model: SpacyModel) -> List[Message]:
        if self._negex is None:
            self._negex = Negex(model.model, NEGATED, negated_termset(), DENIABLE, NEGATED, [])
        for message in messages:
            doc = message.get(FULL_TEXT_DOC) or message.get(SPACY_DOCS[TEXT])
            if doc is None:
                continue
            denied = self._denied(doc)
            entities = [
                {
                    "entity": ENTITY_NAMES[ent.label_],
                    "value": ent.ent_id_,
                    "start": ent.start_char,
                    "end": ent.end_char,
                    "extractor": type(self).__name__,
                }
                for ent in doc.ents
                if ent.label_ in ENTITY_NAMES and ent not in denied
            ]
            entities.sort(key=lambda entity: entity["value"] != GENERIC_CONDITION)  # stable
            message.set(ENTITIES, message.get(ENTITIES, []) + entities, add_to_output=True)
        return messages

    def _denied(self, doc: Doc) -> List[Span]:
        """The conditions `doc` denies, when it names at least one it does not deny."""
        self._negex(doc)
        conditions = [ent for ent in doc.ents if ent.label_ in DENIABLE]
        denied = [ent for ent in conditions if ent._.get(NEGATED)]
        return denied if len(denied) < len(conditions) else []
