"""DIET classifiers trained with different random seeds, whose intent confidences are averaged.

One DIET's intent ranking depends on its random seed: retrained on the same data with three
seeds, the share of covered patient questions answered or offered first moved by 3-4 points on
~100-message probe sets. The mean of a few seeds' confidences is the standard way to take that
variance out (a seed ensemble). Each member is a DIETClassifier of its own in config.yml (own
seed, trained and persisted by Rasa like any DIET); each member adds its full confidence vector to
a running sum kept on the message and sets `intent` and `intent_ranking` from the mean so far, so
the last member leaves the mean of all of them.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

# Kept on the message, not in the parse result: {"sums": {intent: summed confidence}, "members": n}.
RUNNING_SUM = "seed_ensemble"


def add_member(message: Message, ranking: List[Dict[str, Any]]) -> None:
    """Adds one member's full ranking (`[{name, confidence}]`, all intents) to the running sum and
    sets `intent` and the top-10 `intent_ranking` from the mean of the members so far."""
    if not ranking:  # no text features (a payload that skipped NLU): nothing to average
        return
    state = message.get(RUNNING_SUM) or {"sums": {}, "members": 0}
    sums: Dict[str, float] = dict(state["sums"])
    for label in ranking:
        sums[label["name"]] = sums.get(label["name"], 0.0) + float(label["confidence"])
    members = state["members"] + 1
    message.set(RUNNING_SUM, {"sums": sums, "members": members})
    mean = sorted(
        ({"name": name, "confidence": total / members} for name, total in sums.items()),
        key=lambda label: -label["confidence"],
    )
    message.set(INTENT, dict(mean[0]), add_to_output=True)
    message.set(INTENT_RANKING_KEY, mean[:LABEL_RANKING_LENGTH], add_to_output=True)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class SeedEnsembleDIET(DIETClassifier):
    """A DIETClassifier (intents only) whose ranking is averaged with the members before it.

    Configure as DIETClassifier, with its own `random_seed`; `ranking_length` is forced to 0 (all
    intents), as a mean needs every member's full vector.
    """

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {**DIETClassifier.get_default_config(), "ranking_length": 0}

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            _, ranking = self._predict_label(self._predict(message))
            add_member(message, ranking)
        return messages
