"""A typed message is patient text: only the exact payload of a button the assistant offered may
skip NLU.

Rasa reads a message that starts with `/` as a payload (`/intent{"entity": "value"}`) and takes
its intent and entities as they are, without NLU and without the red-flag check. A button's
payload comes back when it is pressed, but anyone can type one: `/am_i_a_candidate{"condition":
{}}` (an entity value an action cannot read), `/greet` (to skip the red-flag check). So each
channel, which can read the conversation, lets a text starting with `/` through unchanged only
when it is exactly the payload of a button the assistant offered in this conversation's session
(earlier buttons stay clickable in the widget, on Telegram and Slack), or one the channel itself
sends (`opening`: the widget's "/greet" when it opens a conversation; the messaging platforms'
"Get Started" and `/start`). Any other leading `/` is removed, so the text goes through NLU like
any message. nlu_components/normalization.py checks the payload's shape again, after this.
"""

from __future__ import annotations

import logging
from typing import Any, Collection, Dict, Iterable, List, Optional, Set

from rasa.shared.core.events import BotUttered, SessionStarted, UserUttered

logger = logging.getLogger(__name__)

PAYLOAD_PREFIX = "/"


def buttons_of(event: BotUttered) -> List[Dict[str, Any]]:
    """The buttons of one bot message: `data.buttons` (domain responses) or `data.custom.buttons`
    (the actions' structured replies, actions/reply.py); [] if none."""
    data = event.data or {}
    custom = data.get("custom") if isinstance(data.get("custom"), dict) else {}
    buttons = custom.get("buttons") or data.get("buttons") or []
    return [button for button in buttons if isinstance(button, dict)]


def offered_buttons(events: Iterable[Any]) -> List[Dict[str, Any]]:
    """The buttons of the assistant's last turn (`[{title, payload}]`), or [] if it offered none."""
    for event in reversed(list(events)):
        if isinstance(event, UserUttered):
            return []
        if isinstance(event, BotUttered) and buttons_of(event):
            return buttons_of(event)
    return []


def offered_payloads(events: Iterable[Any]) -> Set[str]:
    """The payloads of every button the assistant offered since the session started."""
    payloads: Set[str] = set()
    for event in events:
        if isinstance(event, SessionStarted):
            payloads.clear()
        elif isinstance(event, BotUttered):
            payloads.update(b["payload"] for b in buttons_of(event) if isinstance(b.get("payload"), str))
    return payloads


def has_patient_message(events: Iterable[Any]) -> bool:
    return any(isinstance(event, UserUttered) for event in events)


def patient_text(text: str, offered: Collection[str]) -> str:
    """`text` if it does not start with `/` or is exactly one of the `offered` payloads; else the
    text without its leading slashes (and the blanks after them)."""
    if not text.startswith(PAYLOAD_PREFIX) or text in offered:
        return text
    return text.lstrip(PAYLOAD_PREFIX + " \t\n")


async def checked_text(
    tracker_store: Any,
    conversation_id: str,
    text: str,
    opening: Collection[str] = (),
    always: Collection[str] = (),
) -> str:
    """`patient_text` against what the conversation offered: its buttons (read from the tracker
    store only when `text` starts with `/`), the `opening` payloads while the conversation has no
    patient message yet, and the `always` payloads. If the tracker store cannot be read, only
    `always` counts (the message is then handled, or refused, by Rasa as usual)."""
    if not text.startswith(PAYLOAD_PREFIX) or text in always:
        return text
    events: Optional[List[Any]] = None
    try:
        tracker = await tracker_store.retrieve(conversation_id)
        events = list(tracker.events) if tracker is not None else []
    except Exception as error:  # a store outage: never a reason to trust a typed payload
        logger.warning("could not read conversation %s to check a payload (%s)", conversation_id,
                       type(error).__name__)  # fmt: skip
    if events is None:
        return patient_text(text, ())
    offered = offered_payloads(events)
    if not has_patient_message(events):
        offered |= set(opening)
    return patient_text(text, offered)
