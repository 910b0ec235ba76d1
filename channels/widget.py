"""The website widget's channel (`/webhooks/widget/webhook`).

The same checks as the REST channel; the actions see the channel's name and reply with structure
(answer, quotes, references, numbers to call) that the widget lays out itself.
"""

from __future__ import annotations

from channels.patient_rest import PatientRestInput


class WidgetInput(PatientRestInput):
    @classmethod
    def name(cls) -> str:
        return "widget"
