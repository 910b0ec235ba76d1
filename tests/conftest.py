"""The real servers (evaluation/servers.py) for the HTTP and browser tests, once per session, with
every messaging channel on (test secrets) and pointed at a fake platform API on 127.0.0.1."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Dict, Iterator

import pytest

from evaluation.servers import Assistant, running_assistant
from scripts.train import MODEL_PATH
from tests.channels.fake_platform import FakePlatform, running_fake_platform

# The https origin the platforms call (behind the deployment's TLS proxy); Twilio signs it.
PUBLIC_BASE_URL = "https://assistant.clinic.example"
# Made-up secrets, for the tests only: the real ones come from the environment (README).
TEST_CHANNEL_SECRETS = {
    "TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000",
    "TWILIO_AUTH_TOKEN": "test-twilio-auth-token",
    "TWILIO_SMS_NUMBER": "+15550100000",
    "TWILIO_WHATSAPP_NUMBER": "+15550100001",
    "TELEGRAM_BOT_TOKEN": "123456:test-telegram-token",
    "TELEGRAM_SECRET_TOKEN": "test-telegram-secret",
    "MESSENGER_APP_SECRET": "test-messenger-app-secret",
    "MESSENGER_PAGE_ACCESS_TOKEN": "test-messenger-page-token",
    "MESSENGER_VERIFY_TOKEN": "test-messenger-verify-token",
    "SLACK_SIGNING_SECRET": "test-slack-signing-secret",
    "SLACK_BOT_TOKEN": "xoxb-test-slack-token",
}


@pytest.fixture(scope="session")
def fake_platform() -> Iterator[FakePlatform]:
    with running_fake_platform() as platform:
        yield platform


def channel_environment(platform: FakePlatform, state: Path) -> Dict[str, str]:
    apis = {name: platform.url for name in ("TWILIO", "TELEGRAM", "MESSENGER", "SLACK")}
    return {
        **TEST_CHANNEL_SECRETS,
        **{f"{name}_API_BASE": url for name, url in apis.items()},
        "CHANNEL_STATE_URL": f"sqlite:///{state / 'channel_state.db'}",
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
    }


@pytest.fixture(scope="session")
def assistant(tmp_path_factory: pytest.TempPathFactory, fake_platform: FakePlatform) -> Iterator[Assistant]:
    folder = tmp_path_factory.mktemp("servers")
    saved = dict(os.environ)
    os.environ.update(channel_environment(fake_platform, folder))
    try:
        with running_assistant(MODEL_PATH, folder) as servers:
            # The first message warms up the models (seconds); tests time out on single steps.
            servers.chat(secrets.token_hex(16), "what is kyphoplasty?")
            yield servers
    finally:
        os.environ.clear()
        os.environ.update(saved)
