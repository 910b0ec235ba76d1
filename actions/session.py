"""Starts a conversation with the clinic's settings in slots, for the responses in domain.yml."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.clinic import load_clinic


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        settings = load_clinic().template_values()
        # A custom session start must carry the conversation's slots over itself.
        carried = [
            SlotSet(name, value)
            for name, value in tracker.current_slot_values().items()
            if value is not None and name not in settings
        ]
        return [
            SessionStarted(),
            *carried,
            *(SlotSet(name, value) for name, value in settings.items()),
            ActionExecuted("action_listen"),
        ]
