"""Hands a patient's message to Rasa and collects the replies; never comes back empty-handed.

When an action fails, Rasa 3.6 logs it and sends nothing: the patient would get `[]` (REST) or
silence (messaging platforms). Here a failure, or a turn without any reply, gets the `no_reply`
text of channels/texts.yml (try again, the clinic's number, the emergency number).
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, List, cast

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from channels.message_guard import channel_text

logger = logging.getLogger(__name__)

Handler = Callable[[UserMessage], Awaitable[Any]]


async def replies_to(message: UserMessage, on_new_message: Handler) -> List[Dict[str, Any]]:
    """What `message.output_channel` (a CollectingOutputChannel) collected for this message, or
    the `no_reply` text rendered by that channel if Rasa raised or collected nothing."""
    collector = cast(CollectingOutputChannel, message.output_channel)
    try:
        await on_new_message(message)
    except Exception as error:  # the message may be in the error: log only its type
        logger.error("%s: no reply to a message of conversation %s (%s)", message.input_channel,
                     message.sender_id, type(error).__name__)  # fmt: skip
        logger.debug("traceback", exc_info=True)
    if not collector.messages:
        await collector.send_text_message(message.sender_id, channel_text("no_reply"))
    return collector.messages
