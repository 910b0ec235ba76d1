"""Starts the real action server, Rasa server and demo clinic site on free loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests

from nlu_components.paths import PROJECT_ROOT
from scripts.train import MODEL_PATH

VENV_BIN = Path(sys.executable).parent
START_TIMEOUT_S = 240
MAX_BODY_BYTES = 65536


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Assistant:
    base_url: str
    site_url: str  # the demo clinic page with the widget, the one origin allowed by CORS

    @property
    def webhook(self) -> str:
        return f"{self.base_url}/webhooks/rest/webhook"

    def post(self, **kwargs: Any) -> requests.Response:
        return requests.post(self.webhook, timeout=60, **kwargs)

    def chat(self, sender: str, message: str) -> List[Dict[str, Any]]:
        response = self.post(json={"sender": sender, "message": message})
        response.raise_for_status()
        return response.json()


def wait_until_up(url: str, processes: List[subprocess.Popen], logs: List[Path]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        for process, log in zip(processes, logs):
            if process.poll() is not None:
                raise RuntimeError(f"Server exited early:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    raise RuntimeError(f"Server not up after {START_TIMEOUT_S} s: {url}")


@pytest.fixture(scope="session")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    folder = tmp_path_factory.mktemp("servers")
    action_port, rasa_port, site_port = free_port(), free_port(), free_port()
    rasa_url, site_url = f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{site_port}"
    endpoints = folder / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n')
    # The body limit is the Rasa server's alone: the action server receives whole conversations.
    env_of = {
        "actions": {**os.environ, "SANIC_HOST": "127.0.0.1"},
        "rasa": {**os.environ, "SANIC_REQUEST_MAX_SIZE": str(MAX_BODY_BYTES)},
        "site": dict(os.environ),
    }
    python, rasa = str(VENV_BIN / "python"), str(VENV_BIN / "rasa")
    listen = ["--interface", "127.0.0.1", "--port", str(rasa_port), "--cors", site_url]
    files = ["--model", str(MODEL_PATH), "--credentials", "credentials.yml", "--endpoints", str(endpoints)]
    commands = {
        "actions": [python, "-m", "rasa_sdk", "--actions", "actions", "--port", str(action_port)],
        "rasa": [rasa, "run", *listen, *files],
        "site": [python, "-m", "scripts.serve_demo", "--port", str(site_port), "--assistant", rasa_url],
    }
    processes, logs = [], []
    for name, command in commands.items():
        log = folder / f"{name}.log"
        processes.append(
            subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=env_of[name], stdout=log.open("w"), stderr=subprocess.STDOUT
            )
        )
        logs.append(log)
    try:
        wait_until_up(f"http://127.0.0.1:{action_port}/health", processes, logs)
        wait_until_up(f"{site_url}/", processes, logs)
        wait_until_up(f"{rasa_url}/webhooks/rest/", processes, logs)
        yield Assistant(rasa_url, site_url)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
