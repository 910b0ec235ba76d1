"""Hand-built trackers for running the custom actions as the action server does, and one reply of
each kind made that way: the fixtures of the action tests and of every channel's renderer."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.answers import ActionAnswer, ActionShowSources
from actions.guidance import ActionClarify, ActionDecline, ActionOfferQuestions
from actions.red_flag import ActionRedFlag
from actions.referrals import ActionAfterCare, ActionNotCovered, ActionOtherLanguage
from actions.reply import Reply


def tracker(
    intent: str,
    entities: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
    ranking: Optional[List[Dict[str, Any]]] = None,
    nearest: Optional[List[Tuple[str, float]]] = None,
) -> Tracker:
    """A tracker whose latest message has this intent, entities, ranking and, for an unclear
    message, the intents of its `nearest` training examples ((name, share) pairs)."""
    message = {
        "text": "...",
        "intent": {"name": intent, "confidence": 1.0},
        "entities": entities or [],
        "intent_ranking": ranking or [{"name": intent, "confidence": 1.0}],
        "nearest_examples": [{"name": n, "share": share} for n, share in nearest or []],
    }
    events = [{"event": "user", "text": "...", "input_channel": "rest", "parse_data": message}]
    return Tracker("patient", slots or {}, message, events, False, None, {}, "action_listen")


def entities(name: str, *values: str) -> List[Dict[str, Any]]:
    return [{"entity": name, "value": value} for value in values]


def unclear(*ranked: Tuple[str, float]) -> List[Dict[str, Any]]:
    """An intent ranking under the fallback threshold, as the FallbackClassifier leaves it."""
    return [{"name": "nlu_fallback", "confidence": 0.45}] + [{"name": n, "confidence": c} for n, c in ranked]


def run(action: Action, state: Tracker) -> Tuple[List[Reply], list]:
    """The structured replies the action sends (nothing else) and its events."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, state, {}))
    for message in dispatcher.messages:
        assert message["text"] is None and not message["buttons"], "actions send structure only"
    return [message["custom"] for message in dispatcher.messages], events


def reply_of(action: Action, state: Tracker) -> Reply:
    (reply,), _ = run(action, state)
    return reply


# One reply of each kind.
FIXTURES: Dict[str, Reply] = {
    "answer": reply_of(ActionAnswer(), tracker("what_is_kyphoplasty")),
    "not_covered": reply_of(ActionNotCovered(), tracker("activity_after")),
    "decline": reply_of(ActionDecline(), tracker("out_of_scope")),
    "clarify": reply_of(ActionClarify(), tracker("nlu_fallback", ranking=unclear(("sedation", 0.4)))),
    "menu": reply_of(ActionOfferQuestions(), tracker("greet")),
    "sources": reply_of(ActionShowSources(), tracker("ask_sources", slots={"last_answers": ["recovery"]})),
    "emergency": reply_of(ActionRedFlag(), tracker("red_flag", entities("red_flag", "legs"))),
    "after_care": reply_of(ActionAfterCare(), tracker("after_care")),
    "other_language": reply_of(ActionOtherLanguage(), tracker("other_language", entities("language", "es"))),
}

# An answer to a message that also mentioned a red flag: the answer carries a safety note.
NOTED_ANSWER: Reply = reply_of(
    ActionAnswer(), tracker("what_is_kyphoplasty", entities("red_flag_mention", "chest_pain"))
)
