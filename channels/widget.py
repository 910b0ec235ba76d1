"""The website widget's channel (`/webhooks/widget/webhook`).

The same checks as the REST channel; the actions' structured replies (actions/reply.py) pass
through as `{"recipient_id", "custom": reply}` and the widget lays them out itself. Domain
responses stay `{"recipient_id", "text", "buttons"?}`.
"""

from __future__ import annotations

from rasa.core.channels.channel import CollectingOutputChannel

from channels.patient_rest import PatientRestInput


class WidgetInput(PatientRestInput):
    @classmethod
    def name(cls) -> str:
        return "widget"

    def output_channel(self) -> CollectingOutputChannel:
        return CollectingOutputChannel()
