"""Emergency instructions, and nothing else, for a message that describes an emergency."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import red_flag_replies


class ActionRedFlag(Action):
    def name(self) -> str:
        return "action_red_flag"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        kinds = list(tracker.get_latest_entity_values("red_flag"))
        for text in red_flag_replies(kinds):
            dispatcher.utter_message(text=text)
        return []
