"""The compiled check of action server responses accepts and rejects what Rasa's own check does."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction

import channels.patient_rest  # noqa: F401  (installs the check, as the Rasa server does)
from channels.action_result_validation import validate_action_result

VALID = [
    {
        "events": [{"event": "slot", "name": "last_answers", "value": ["recovery"]}],
        "responses": [{"text": "hi"}],
    },
    {"events": [], "responses": [{"custom": {"kind": "answer"}, "buttons": []}]},
    {},
]
INVALID = [
    {"events": [{"name": "no event type"}], "responses": []},
    {"events": "not a list"},
    {"responses": [{"text": "x"}], "events": [{"event": 3}]},
]


def test_the_rasa_server_uses_the_compiled_check() -> None:
    assert RemoteAction._validate_action_result is validate_action_result


@pytest.mark.parametrize("result", VALID)
def test_accepts_what_rasa_accepts(result) -> None:
    validate(result, RemoteAction.action_response_format_spec())
    assert validate_action_result(None, result) is True


@pytest.mark.parametrize("result", INVALID)
def test_rejects_what_rasa_rejects_with_the_same_error(result) -> None:
    with pytest.raises(ValidationError) as rasas:
        validate(result, RemoteAction.action_response_format_spec())
    with pytest.raises(ValidationError) as ours:
        validate_action_result(None, result)
    assert ours.value.message.startswith(rasas.value.message)
    assert "Failed to validate Action server response" in ours.value.message
