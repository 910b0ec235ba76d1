"""After-care triage: someone who has had the procedure and says how they feel gets no benefits
answer, whatever the classifier thought of their words.

"I had it two weeks ago and the pain is back, is that normal?" reads to a classifier like a
question about pain relief, and the article's "many patients report reduced pain immediately"
is the last thing such a patient should be told: the article says nothing about after-care.
When a message says the procedure has happened (a past-procedure phrase) and describes how the
patient feels (a feeling phrase), the intent becomes `after_care`; its reply sends to the clinic
today, with the red flags to watch for. An emergency (the red-flag detector, after this) or a
message in another language still wins.
"""

from __future__ import annotations

from typing import List, Optional

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc

from nlu_components.overrides import override_intent
from nlu_components.question_focus import FULL_TEXT_DOC
from nlu_components.red_flags import token_pattern
from nlu_components.stateless import StatelessComponent

AFTER_CARE_INTENT = "after_care"
# Intents that never yield to after-care: the conversation itself, emergencies, other languages.
KEPT_INTENTS = {"greet", "goodbye", "thank", "bot_challenge", "ask_sources", "red_flag", "other_language"}

PROCEDURE = "procedure|kyphoplasty|kypho|op|operation|surgery|cement|balloon"
WHEN = "yesterday|monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|week|month|fortnight"
PAST_PROCEDURE = [
    f"=had * {PROCEDURE}",
    f"=had * * {PROCEDURE}",
    "=had it",
    "=had mine",
    f"since * {PROCEDURE}",
    f"since * * {PROCEDURE}",
    f"{PROCEDURE} =was # day|days|week|weeks|month|months ago",
    f"{PROCEDURE} =was {WHEN}",
    f"{PROCEDURE} =was last",
    f"{PROCEDURE} # day|days|week|weeks|month|months ago",
    "post op",
    "post-op",
]
FEELING = [
    "pain|painful|sore|soreness|hurt|hurts|hurting|ache|aching|achy|stiff|stiffness|bruise|bruised|bruising",
    "tired|exhausted|worse|swollen|swelling|itchy|itch|tender|throbbing|burning|spasm|spasms|cramp|cramps",
    "dizzy|sick|nausea|nauseous|queasy|shaky|weak|numb|tingling|headache|constipated|bunged",
    "no better",
    "not better",
    "no improvement",
    "not improve",
    "not help",
    "not work",
    "be back",
    "come back",
    "normal",
    "worried|worry|concerned",
]


class AfterCareFinder:
    """Tells whether a doc says the procedure has happened and how the patient feels now."""

    def __init__(self, nlp: Language) -> None:
        self.matcher = Matcher(nlp.vocab)
        self.matcher.add("PAST_PROCEDURE", [token_pattern(p, nlp) for p in PAST_PROCEDURE])
        self.matcher.add("FEELING", [token_pattern(p, nlp) for p in FEELING])

    def describes_after_care(self, doc: Doc) -> bool:
        found = {self.matcher.vocab.strings[match_id] for match_id, _, _ in self.matcher(doc)}
        return {"PAST_PROCEDURE", "FEELING"} <= found


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False, model_from="SpacyNLP"
)
class AfterCareTriage(StatelessComponent):
    """After the classifiers: a post-procedure report of how the patient feels becomes `after_care`."""

    def __init__(self) -> None:
        self._finder: Optional[AfterCareFinder] = None

    def process(self, messages: List[Message], model: SpacyModel) -> List[Message]:
        if self._finder is None:
            self._finder = AfterCareFinder(model.model)
        for message in messages:
            doc = message.get(FULL_TEXT_DOC) or message.get(SPACY_DOCS[TEXT])
            predicted = (message.get(INTENT) or {}).get("name")
            if doc is None or predicted in KEPT_INTENTS or predicted == AFTER_CARE_INTENT:
                continue
            if self._finder.describes_after_care(doc):
                override_intent(message, AFTER_CARE_INTENT)
        return messages
