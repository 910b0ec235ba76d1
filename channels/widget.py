"""The website widget's channel (`/webhooks/widget/webhook`).

The same checks as the REST channel. Every reply reaches the widget as `{"recipient_id",
"custom": reply}` (actions/reply.py), domain responses too (as replies of kind "text"), so the
widget lays out one shape and every number to call, the clinic's included, is a tap-to-call link.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.core.channels.channel import CollectingOutputChannel

from actions.reply import new_reply
from channels.patient_rest import PatientRestInput


class StructuredOutput(CollectingOutputChannel):
    """Collects the replies of one request, each as a structured reply."""

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for paragraph in text.strip().split("\n\n"):  # as Rasa's own output channels split texts
            reply = new_reply("text", paragraph)
            await self._persist_message({"recipient_id": recipient_id, "custom": reply})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        reply = new_reply("text", text, buttons=buttons)
        await self._persist_message({"recipient_id": recipient_id, "custom": reply})


class WidgetInput(PatientRestInput):
    @classmethod
    def name(cls) -> str:
        return "widget"

    def output_channel(self) -> CollectingOutputChannel:
        return StructuredOutput()
