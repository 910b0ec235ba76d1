"""Emergency instructions, and nothing else, for a message that describes an emergency."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.rendering import STRUCTURED_CHANNELS, emergency_payload
from actions.replies import emergencies


class ActionRedFlag(Action):
    def name(self) -> str:
        return "action_red_flag"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        structured = tracker.get_latest_input_channel() in STRUCTURED_CHANNELS
        for emergency in emergencies(list(tracker.get_latest_entity_values("red_flag"))):
            if structured:
                dispatcher.utter_message(json_message=emergency_payload(emergency.text, emergency.numbers))
            else:
                dispatcher.utter_message(text=emergency.text)
        return []
