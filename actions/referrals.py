"""What the article does not answer, said honestly with the clinic's number: known topics it is
silent on, how the patient feels after the procedure, and messages in another language."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.guidance import topic_reply
from actions.knowledge import load_knowledge
from actions.replies import after_care_reply, other_language_reply, utter

LANGUAGE_ENTITY = "language"


class ActionNotCovered(Action):
    """A topic of knowledge/not_covered.yml, named by the intent; any other intent is declined."""

    def name(self) -> str:
        return "action_not_covered"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        utter(dispatcher, tracker, topic_reply(tracker.get_intent_of_latest_message(), load_knowledge()))
        return []


class ActionAfterCare(Action):
    """The patient had the procedure and says how they feel: the clinic, and the signs to watch for."""

    def name(self) -> str:
        return "action_after_care"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        utter(dispatcher, tracker, after_care_reply())
        return []


class ActionOtherLanguage(Action):
    """A message in another language: the clinic's and emergency numbers, in that language."""

    def name(self) -> str:
        return "action_other_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        language = next(iter(tracker.get_latest_entity_values(LANGUAGE_ENTITY)), None)
        utter(dispatcher, tracker, other_language_reply(language))
        return []
