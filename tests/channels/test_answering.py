"""A patient always gets a reply: when Rasa or an action fails, or a turn collects nothing, every
channel sends the `no_reply` text (the clinic's number and the emergency number) instead of `[]`
or silence."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, List

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from actions.clinic import load_clinic
from actions.reply import Reply
from channels.answering import replies_to
from channels.message_guard import channel_text
from channels.messaging import Inbound, MessagingInput
from channels.text_output import TextOutput
from channels.widget import StructuredOutput

CLINIC = load_clinic()
SECRET_TEXT = "my name is Jane Roe and my back hurts"


async def failing(message: UserMessage) -> None:
    raise RuntimeError(f"action server said: {message.text}")  # as Rasa's errors may quote it


async def silent(message: UserMessage) -> None:
    return None


async def answering(message: UserMessage) -> None:
    await message.output_channel.send_text_message(message.sender_id, "An answer.")


def collect(output: CollectingOutputChannel, handler: Any) -> List[dict]:
    return asyncio.run(replies_to(UserMessage(SECRET_TEXT, output, "patient", input_channel="rest"), handler))


@pytest.mark.parametrize("handler", [failing, silent])
def test_a_failure_or_no_reply_gets_the_no_reply_text_on_rest_and_widget(handler: Any, caplog) -> None:
    caplog.set_level(logging.INFO)  # the default level: the traceback is DEBUG
    [text] = collect(TextOutput(), handler)
    assert text == {"recipient_id": "patient", "text": channel_text("no_reply")}
    assert CLINIC.phone in text["text"] and CLINIC.emergency_number in text["text"]
    [widget] = collect(StructuredOutput(), handler)
    assert widget["custom"]["text"] == channel_text("no_reply")
    assert [call["number"] for call in widget["custom"]["call"]] == [CLINIC.phone]  # tap to call
    assert SECRET_TEXT not in caplog.text


def test_replies_pass_through_when_there_are_some() -> None:
    assert collect(TextOutput(), answering) == [{"recipient_id": "patient", "text": "An answer."}]


class RecordingChannel(MessagingInput):
    """A platform whose sends are recorded, to run the shared flow without a server."""

    def __init__(self) -> None:
        super().__init__(enabled=True)
        self.sent: List[str] = []

    @classmethod
    def name(cls) -> str:
        return "recording"

    def render(self, reply: Reply) -> List[str]:
        return [reply["text"]]

    async def send(self, inbound: Inbound, message: Any) -> None:
        self.sent.append(message)


class NoTracker:
    async def retrieve(self, sender_id: str) -> None:
        return None


@pytest.mark.parametrize("handler", [failing, silent])
def test_a_messaging_patient_gets_the_no_reply_text_when_rasa_fails(handler: Any, caplog) -> None:
    caplog.set_level(logging.INFO)  # the default level: the traceback is DEBUG
    channel = RecordingChannel()
    asyncio.run(channel.handle(Inbound("m1", "u1", {}, SECRET_TEXT), handler, NoTracker()))
    assert channel.sent == [channel_text("no_reply")]
    assert SECRET_TEXT not in caplog.text


def test_a_failing_action_is_logged_without_what_the_patient_said(caplog) -> None:
    from channels.log_privacy import install

    install()
    caplog.set_level(logging.INFO)
    try:
        raise RuntimeError(f"action server answered 500: {SECRET_TEXT}")
    except RuntimeError:
        logging.getLogger("rasa.core.processor").exception("Encountered an exception while running action")
    assert "Encountered an exception while running action (RuntimeError;" in caplog.text
    assert SECRET_TEXT not in caplog.text
