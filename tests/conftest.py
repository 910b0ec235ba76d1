"""The real servers (evaluation/servers.py) for the HTTP and browser tests, once per session."""

from __future__ import annotations

from typing import Iterator

import pytest

from evaluation.servers import Assistant, running_assistant
from scripts.train import MODEL_PATH


@pytest.fixture(scope="session")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    with running_assistant(MODEL_PATH, tmp_path_factory.mktemp("servers")) as servers:
        yield servers
