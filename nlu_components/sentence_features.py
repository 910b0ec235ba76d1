"""Only sentence features reach the intent classifier: each message's per-token features are
replaced by one placeholder.

DIET has no transformer here (config.yml), so it reads a message's intent from the message's
sentence features alone (the last position of its sequence layer); the per-token ("sequence")
features of the featurizers before it never reach the intent. Rasa's batch generator still
converts and pads them for every training batch, in Python: py-spy put ~60% of DIET's training
time there. DIET refuses a message without sequence features, so one (1, 1) zero feature stands
in for them (a sequence of one token that carries nothing).
"""

from __future__ import annotations

from typing import List

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.stateless import StatelessComponent

ORIGIN = "SentenceFeaturesOnly"


def keep_sentence_features(message: Message) -> None:
    """Replaces the message text's sequence features, of any featurizer, by one (1, 1) zero
    feature; sentence features and other attributes' features are kept. A message without text
    features (a button payload that skipped NLU) is left as it is."""
    if not any(f.attribute == TEXT for f in message.features):
        return
    kept = [f for f in message.features if not (f.attribute == TEXT and f.type == FEATURE_TYPE_SEQUENCE)]
    placeholder = Features(np.zeros((1, 1), dtype=np.float32), FEATURE_TYPE_SEQUENCE, TEXT, ORIGIN)
    message.features = [*kept, placeholder]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceFeaturesOnly(StatelessComponent):
    """Right before DIET: the text's sequence features become one placeholder."""

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            keep_sentence_features(example)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            keep_sentence_features(message)
        return messages
