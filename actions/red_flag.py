"""Emergency instructions, and nothing else, for a message that describes an emergency."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import emergency_replies, utter


class ActionRedFlag(Action):
    """One `emergency` reply per red flag of the message, most urgent first."""

    def name(self) -> str:
        return "action_red_flag"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        for reply in emergency_replies(tracker.get_latest_entity_values("red_flag")):
            utter(dispatcher, tracker, reply)
        return []
