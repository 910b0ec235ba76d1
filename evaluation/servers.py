"""Starts the real servers on free loopback ports: action server, Rasa server, demo clinic site.

Used by the tests (tests/conftest.py) and the benchmark, so both measure what `scripts/run.sh`
runs. The body limit applies to the Rasa server only: the action server receives whole
conversations, which grow past it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List

import requests

from nlu_components.paths import PROJECT_ROOT

VENV_BIN = Path(sys.executable).parent
START_TIMEOUT_S = 240
MAX_BODY_BYTES = 262144


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Assistant:
    base_url: str
    site_url: str  # the demo clinic page with the widget, the one origin allowed by CORS
    rasa_pid: int = 0
    started_at: float = field(default=0.0)  # time.monotonic() when the Rasa server was launched
    logs: Path = field(default=Path("."))  # the servers' logs: actions.log, rasa.log, site.log

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
        time.sleep(0.2)
    raise RuntimeError(f"Server not up after {START_TIMEOUT_S} s: {url}")


@contextmanager
def running_assistant(model: Path, folder: Path) -> Iterator[Assistant]:
    """The three servers with this model, as scripts/run.sh starts them (conversations in a SQLite
    tracker store, here `folder`/conversations.db); logs in `folder`; all stopped on exit. The same
    `folder` again continues its conversations."""
    action_port, rasa_port, site_port = free_port(), free_port(), free_port()
    rasa_url, site_url = f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{site_port}"
    endpoints = folder / "endpoints.yml"
    endpoints.write_text(
        f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n'
        f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {folder / 'conversations.db'}\n"
    )
    python, rasa = str(VENV_BIN / "python"), str(VENV_BIN / "rasa")
    listen = ["--interface", "127.0.0.1", "--port", str(rasa_port), "--cors", site_url]
    files = ["--model", str(model), "--credentials", "credentials.yml", "--endpoints", str(endpoints)]
    commands: Dict[str, List[str]] = {
        "actions": [python, "-m", "rasa_sdk", "--actions", "actions", "--port", str(action_port)],
        "site": [python, "-m", "scripts.serve_demo", "--port", str(site_port), "--assistant", rasa_url],
        "rasa": [rasa, "run", *listen, *files],
    }
    env_of = {
        "actions": {**os.environ, "SANIC_HOST": "127.0.0.1"},
        "site": dict(os.environ),
        "rasa": {**os.environ, "SANIC_REQUEST_MAX_SIZE": str(MAX_BODY_BYTES)},
    }
    processes, logs, outputs = [], [], []
    launched: Dict[str, float] = {}
    try:
        for name, command in commands.items():
            log = folder / f"{name}.log"
            outputs.append(log.open("w"))
            launched[name] = time.monotonic()
            processes.append(
                subprocess.Popen(
                    command, cwd=PROJECT_ROOT, env=env_of[name], stdout=outputs[-1], stderr=subprocess.STDOUT
                )
            )
            logs.append(log)
        wait_until_up(f"http://127.0.0.1:{action_port}/health", processes, logs)
        wait_until_up(f"{site_url}/", processes, logs)
        wait_until_up(f"{rasa_url}/webhooks/rest/", processes, logs)
        rasa_pid = processes[list(commands).index("rasa")].pid
        yield Assistant(rasa_url, site_url, rasa_pid, launched["rasa"], folder)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        for output in outputs:
            output.close()
