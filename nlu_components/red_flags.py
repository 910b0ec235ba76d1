"""Red-flag detector: finds emergencies in a message and overrides whatever intent was predicted.

It runs last in the NLU pipeline so that no classifier, threshold or fallback can outvote it:
a message that describes an emergency is classified `red_flag`, with one `red_flag` entity per
kind found (the reply names the right number for each). The DIET intent `red_flag` is a second
net for wordings the patterns below do not know.

Detection is a spaCy `Matcher` on lowercase lemmas: each pattern marks a concept ("a leg word",
"numbness", "can't"), and a kind of red flag is a combination of concepts within one sentence.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Dict, FrozenSet, List, Optional, Set, Tuple

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from spacy.matcher import Matcher
from spacy.tokens import Doc
from spacy.vocab import Vocab

from nlu_components.stateless import StatelessComponent

RED_FLAG_INTENT = "red_flag"
RED_FLAG_ENTITY = "red_flag"

CANT = [
    [{"LEMMA": {"IN": ["ca", "can", "could", "do", "will"]}}, {"LEMMA": "not"}],
    [{"LEMMA": "not"}, {"LEMMA": "able"}],
    [{"LEMMA": {"IN": ["cannot", "unable", "lose"]}}],
]


def _words(*phrases: str) -> List[List[Dict[str, Any]]]:
    """One pattern per phrase of space-separated lemmas."""
    return [[{"LEMMA": lemma} for lemma in phrase.split()] for phrase in phrases]


# Concept -> token patterns on the lowercase lemmas of the project's spaCy pipeline.
CONCEPTS: Dict[str, List[List[Dict[str, Any]]]] = {
    "CANT": CANT,
    "LEG": _words("leg", "foot", "feet", "thigh", "toe", "lower body", "groin", "saddle", "buttock"),
    "NUMB": _words(
        "numb",
        "numbness",
        "tingle",
        "tingling",
        "weak",
        "weakness",
        "paralyze",
        "paralysed",
        "paralyzed",
        "paralysis",
        "dead",
        "give out",
        "give way",
        "pin and needle",
        "no feel",
        "no sensation",
    ),
    "FEEL_MOVE": _words("feel", "feeling", "move", "movement", "lift", "stand", "walk", "sensation"),
    "BLADDER": _words("bladder", "bowel", "pee", "urine", "urinate", "poop", "stool", "toilet"),
    "CONTROL": _words("control", "leak", "accident"),
    "INCONTINENCE": [
        *_words("incontinence", "incontinent"),
        [
            {"LEMMA": {"IN": ["wet", "pee", "soil", "poop"]}},
            {"LEMMA": {"IN": ["myself", "himself", "herself", "themselves", "the", "my", "his", "her"]}},
        ],
    ],
    "CHEST": _words("chest", "heart"),
    "PAIN": _words("pain", "hurt", "ache", "pressure", "tight", "tightness", "squeeze", "crush", "attack"),
    "BREATHE": _words("breathe", "breath", "breathing", "breathless", "air", "wheeze", "wheezing"),
    "STRUGGLE": _words(
        "trouble",
        "hard",
        "difficult",
        "difficulty",
        "struggle",
        "short",
        "shortness",
        "gasp",
        "gasping",
        "choke",
        "breathless",
        "wheeze",
        "wheezing",
    ),
    "FEVER": _words("fever", "feverish", "temperature", "chill", "chills"),
    "WOUND": _words(
        "wound",
        "incision",
        "cut",
        "site",
        "puncture",
        "stitch",
        "stitches",
        "scar",
        "needle",
        "spot",
        "bandage",
    ),
    "INFLAMED": _words(
        "red",
        "redness",
        "hot",
        "warm",
        "swollen",
        "swelling",
        "pus",
        "ooze",
        "oozing",
        "infected",
        "infection",
    ),
    "SELF_HARM": [
        *_words(
            "suicide",
            "suicidal",
            "self harm",
            "self - harm",
            "kill myself",
            "end my life",
            "end it all",
            "take my own life",
            "hurt myself",
            "harm myself",
            "want to die",
            "better off dead",
            "no reason to live",
            "rather be dead",
            "end everything",
            "overdose",
            "not worth living",
            "no point in living",
        ),
        [
            {"LEMMA": "not"},
            {"LEMMA": "want"},
            {"LEMMA": "to"},
            {"LEMMA": {"IN": ["live", "be", "go"]}},
            {"LEMMA": {"IN": ["anymore", "alive", "on"]}},
        ],
    ],
}

# Kind -> alternatives, each a set of concepts that must all occur in one sentence.
SENTENCE_RULES: Dict[str, Tuple[FrozenSet[str], ...]] = {
    "legs": (frozenset({"LEG", "NUMB"}), frozenset({"LEG", "CANT", "FEEL_MOVE"})),
    "bladder_bowel": (
        frozenset({"BLADDER", "CONTROL"}),
        frozenset({"BLADDER", "CANT"}),
        frozenset({"INCONTINENCE"}),
    ),
    "chest_pain": (frozenset({"CHEST", "PAIN"}),),
    "breathing": (frozenset({"BREATHE", "STRUGGLE"}), frozenset({"BREATHE", "CANT"})),
    "self_harm": (frozenset({"SELF_HARM"}),),
}
# A fever and a red wound are often told in separate sentences: these may span the message.
MESSAGE_RULES: Dict[str, Tuple[FrozenSet[str], ...]] = {
    "wound_infection": (frozenset({"FEVER", "WOUND"}), frozenset({"FEVER", "INFLAMED"})),
}


def _satisfied(rules: Dict[str, Tuple[FrozenSet[str], ...]], concepts: Set[str]) -> Set[str]:
    return {kind for kind, alternatives in rules.items() if any(a <= concepts for a in alternatives)}


class RedFlagMatcher:
    """Finds the kinds of red flag a spaCy doc describes."""

    def __init__(self, vocab: Vocab) -> None:
        self.matcher = Matcher(vocab)
        for concept, patterns in CONCEPTS.items():
            self.matcher.add(concept, patterns)

    def kinds(self, doc: Doc) -> List[str]:
        by_sentence: Dict[int, Set[str]] = defaultdict(set)
        for match_id, start, _ in self.matcher(doc):
            by_sentence[doc[start].sent.start].add(self.matcher.vocab.strings[match_id])
        whole_message: Set[str] = set().union(*by_sentence.values())
        found = _satisfied(MESSAGE_RULES, whole_message)
        for concepts in by_sentence.values():
            found |= _satisfied(SENTENCE_RULES, concepts)
        return sorted(found)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False, model_from="SpacyNLP"
)
class RedFlagDetector(StatelessComponent):
    """Overrides the predicted intent with `red_flag` when the message describes an emergency."""

    def __init__(self) -> None:
        self._matcher: Optional[RedFlagMatcher] = None

    def process(self, messages: List[Message], model: SpacyModel) -> List[Message]:
        if self._matcher is None:
            self._matcher = RedFlagMatcher(model.model.vocab)
        for message in messages:
            doc = message.get(SPACY_DOCS[TEXT])
            kinds = self._matcher.kinds(doc) if doc is not None else []
            if kinds:
                flag_as_emergency(message, kinds)
        return messages


def flag_as_emergency(message: Message, kinds: List[str]) -> None:
    intent = {"name": RED_FLAG_INTENT, "confidence": 1.0}
    ranking = [intent] + [
        ranked for ranked in message.get(INTENT_RANKING_KEY, []) if ranked.get("name") != RED_FLAG_INTENT
    ]
    entities = [{"entity": RED_FLAG_ENTITY, "value": kind, "extractor": "RedFlagDetector"} for kind in kinds]
    message.set(INTENT, intent, add_to_output=True)
    message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
    message.set(ENTITIES, message.get(ENTITIES, []) + entities, add_to_output=True)
