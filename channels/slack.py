"""slack channel: being written (the helper for slack replaces this file)."""

from __future__ import annotations

from typing import Any, Dict, Optional

from rasa.core.channels.channel import InputChannel

from channels.messaging import MessagingInput


class SlackInput(MessagingInput):
    @classmethod
    def name(cls) -> str:
        return "slack"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        return cls(enabled=False)
