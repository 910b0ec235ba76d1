"""The replies whose texts are in replies.yml, filled in with the clinic's settings, and sending
any reply with the safety note its message calls for."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.clinic import load_clinic
from actions.knowledge import Topic, load_knowledge
from actions.reply import Reply, buttons_for, call_list, evidence, new_reply

REPLIES_PATH = Path(__file__).resolve().with_name("replies.yml")
UNSPECIFIED = "unspecified"  # the emergency reply when the red-flag intent comes without a kind
ENGLISH = "en"
MENTION_ENTITY = "red_flag_mention"
# Replies that get a safety note when the message mentions a red flag without describing one now.
NOTED_KINDS = frozenset({"answer", "not_covered", "decline", "clarify", "after_care", "other_language"})
# Replies that, in the turn right after an emergency, give way to the emergency replies again:
# "what do I do?" or "can it wait till the morning?" after "call 911" asks about the emergency.
AFTER_EMERGENCY_KINDS = frozenset({"not_covered", "decline", "clarify"})
RED_FLAG = "red_flag"  # the emergency intent, and the entity naming its kinds


@lru_cache(maxsize=1)
def _texts() -> Dict[str, Any]:
    return yaml.safe_load(REPLIES_PATH.read_text(encoding="utf-8"))


def fill(text: str) -> str:
    """The text with its clinic placeholders filled in; KeyError for an unknown placeholder."""
    return " ".join(text.split()).format(**load_clinic().template_values())


def reply_text(name: str) -> str:
    """The top-level text `name` of replies.yml, filled in."""
    return fill(_texts()[name])


def red_flag_kinds() -> List[str]:
    """The kinds of red flag, most urgent first."""
    return [kind for kind in _texts()["red_flags"] if kind != UNSPECIFIED]


def _numbers(names: Iterable[str]) -> List[str]:
    values = load_clinic().template_values()
    return [values[name] for name in names]


def _flags(kinds: Iterable[str]) -> List[Dict[str, Any]]:
    """The replies.yml entries of these kinds, most urgent first; unknown kinds are left out."""
    wanted = set(kinds)
    return [fields for kind, fields in _texts()["red_flags"].items() if kind in wanted]


def emergency_replies(kinds: Iterable[str]) -> List[Reply]:
    """One `emergency` reply per kind, most urgent first; the `unspecified` one if none is known."""
    flags = _flags(kinds) or [_texts()["red_flags"][UNSPECIFIED]]
    return [new_reply("emergency", fill(flag["text"]), call=_numbers(flag["call"])) for flag in flags]


def safety_note(kinds: Iterable[str]) -> Optional[Dict[str, Any]]:
    """`{text, call}` with the `if_now` line of each red flag mentioned, or None if none is known."""
    flags = _flags(kinds)
    if not flags:
        return None
    return {
        "text": "\n".join(fill(flag["if_now"]) for flag in flags),
        "call": call_list([number for flag in flags for number in _numbers(flag["call"])]),
    }


def watch_for() -> List[str]:
    """The signs of every red flag, most urgent first, for after-care replies."""
    return [fill(flag["watch_for"]) for flag in _flags(red_flag_kinds())]


def after_care_reply() -> Reply:
    """The `after_care` reply: call the clinic today; the signs that need the emergency number."""
    clinic = load_clinic()
    return new_reply(
        "after_care",
        f"{reply_text('after_care')}\n{reply_text('after_care_watch_for')}",
        call=[clinic.phone, clinic.emergency_number],
        watch_for=watch_for(),
    )


def other_language_reply(language: Optional[str]) -> Reply:
    """The fixed reply in `language` (an ISO 639-1 code, "es-MX" reads as "es"); English when
    there is no text in that language."""
    texts = _texts()["other_language"]
    code = (language or ENGLISH).lower().replace("_", "-").split("-")[0]
    code = code if code in texts else ENGLISH
    clinic = load_clinic()
    return new_reply(
        "other_language",
        fill(texts[code]),
        call=[clinic.phone, clinic.emergency_number, clinic.crisis_line],
        language=code,
    )


def not_covered_reply(topic: Topic) -> Reply:
    """The `not_covered` reply: what the article does not say, where to ask, and the article's
    sentences nearby (none when the topic has none), with the starter questions."""
    knowledge, clinic = load_knowledge(), load_clinic()
    return with_starter_questions(
        "not_covered",
        f"{fill(topic.text)} {reply_text('not_covered_route')}",
        call=[clinic.phone],
        topic=topic.id,
        **evidence(topic.nearby, knowledge, clinic),
    )


def with_starter_questions(kind: str, text: str, **fields: Any) -> Reply:
    """A reply of this kind that offers the starter questions as buttons."""
    return new_reply(kind, text, buttons=buttons_for(load_knowledge().starters), **fields)


def menu_reply() -> Reply:
    """The `menu` reply: the starter questions, offered."""
    return with_starter_questions("menu", reply_text("offer_questions"))


def previous_emergency(tracker: Tracker) -> Optional[List[str]]:
    """The red-flag kinds of the patient's message before the latest one if that message was an
    emergency ([] when its kind is unknown), else None."""
    users = [event for event in reversed(tracker.events) if event.get("event") == "user"]
    parse = (users[1].get("parse_data") or {}) if len(users) > 1 else {}
    if (parse.get("intent") or {}).get("name") != RED_FLAG:
        return None
    return [e["value"] for e in parse.get("entities") or [] if e.get("entity") == RED_FLAG]


def utter(dispatcher: CollectingDispatcher, tracker: Tracker, reply: Reply) -> None:
    """Sends the reply, with a safety note for the red flags the latest message only mentions; an
    unclear or uncovered message right after an emergency gets the emergency replies instead."""
    kinds = previous_emergency(tracker) if reply["kind"] in AFTER_EMERGENCY_KINDS else None
    if kinds is not None:
        for emergency in emergency_replies(kinds):
            dispatcher.utter_message(json_message=emergency)
        return
    if reply["kind"] in NOTED_KINDS:
        reply = {**reply, "safety_note": safety_note(tracker.get_latest_entity_values(MENTION_ENTITY))}
    dispatcher.utter_message(json_message=reply)
