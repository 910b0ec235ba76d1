"""Starts the real servers on free loopback ports: action server, Rasa server, demo clinic site;
or, for the scale-out profile, N Rasa servers sharing a tracker store and a lock store, with one
or more action servers.

Used by the tests (tests/conftest.py, tests/stores/) and the benchmark, so both measure what
`scripts/run.sh` runs: each Rasa server's endpoints are the project's `endpoints.yml` with only
the action server's URL, the tracker store's location and (scale-out) the stores replaced. The
body limit applies to the Rasa server only: the action server receives whole conversations, which
grow past it.
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
from typing import IO, Any, Dict, Iterator, List, Mapping, Optional

import requests
import yaml

from nlu_components.paths import PROJECT_ROOT

VENV_BIN = Path(sys.executable).parent
START_TIMEOUT_S = 240
MAX_BODY_BYTES = 262144
ATOMIC_REDIS_LOCK_STORE = "stores.lock_store.AtomicRedisLockStore"  # the scale-out profile's
STOCK_REDIS_LOCK_STORE = "redis"  # Rasa's own RedisLockStore: loses messages (README, Scale out)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Assistant:
    base_url: str
    site_url: str = ""  # the demo clinic page with the widget, the one origin allowed by CORS ("" if none)
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


@dataclass
class Cluster:
    """N Rasa servers sharing one tracker store and one lock store (the scale-out profile)."""

    servers: List[Assistant]  # the Rasa servers, each with its own port and rasa-<i>.log
    action_urls: List[str]  # the action servers' webhooks; Rasa server i uses number i % len
    logs: Path  # the folder with every server's log and endpoints file


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


def project_endpoints() -> Dict[str, Any]:
    """The project's endpoints.yml (what scripts/run.sh uses), as a mapping."""
    return yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text())


def write_endpoints(
    path: Path,
    action_url: str,
    tracker_store: Mapping[str, Any],
    lock_store: Optional[Mapping[str, Any]] = None,
    action_endpoint: Optional[Mapping[str, Any]] = None,
) -> Path:
    """Writes the project's endpoints with this action server and tracker store (and lock store,
    when given; otherwise the project's) to `path`. The action endpoint keeps the project's options
    (e.g. `enable_selective_domain`) unless `action_endpoint` gives others."""
    endpoints = project_endpoints()
    if action_endpoint is None:
        action_endpoint = {k: v for k, v in endpoints["action_endpoint"].items() if k != "url"}
    endpoints["action_endpoint"] = {"url": action_url, **action_endpoint}
    endpoints["tracker_store"] = dict(tracker_store)
    if lock_store is not None:
        endpoints["lock_store"] = dict(lock_store)
    path.write_text(yaml.safe_dump(endpoints, sort_keys=False))
    return path


def sqlite_tracker_store(database: Path) -> Dict[str, Any]:
    """The project's tracker store (endpoints.yml) on the SQLite file `database`."""
    return {**project_endpoints()["tracker_store"], "db": str(database)}


def postgres_tracker_store(
    host: str, port: int, database: str, username: str, password: str = ""
) -> Dict[str, Any]:
    """The project's SQL tracker store (Rasa's, without in-memory fallback: stores/tracker_store.py)
    on PostgreSQL (`evaluation.local_stores.LocalPostgres` has these)."""
    store: Dict[str, Any] = {
        "type": "stores.tracker_store.StrictSQLTrackerStore",
        "dialect": "postgresql",
        "url": host,
        "port": port,
        "db": database,
    }
    store["username"] = username
    if password:
        store["password"] = password
    return store


def redis_lock_store(host: str, port: int, lock_store_type: str = ATOMIC_REDIS_LOCK_STORE) -> Dict[str, Any]:
    """A Redis lock store: the project's atomic one, or Rasa's stock one (`STOCK_REDIS_LOCK_STORE`)."""
    return {"type": lock_store_type, "url": host, "port": port, "db": 1}


class _Launcher:
    """Starts processes with their logs in one folder; `close()` stops them all."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: List[subprocess.Popen] = []
        self.logs: List[Path] = []
        self._outputs: List[IO[str]] = []

    def start(self, name: str, command: List[str], environment: Mapping[str, str]) -> subprocess.Popen:
        log = self.folder / f"{name}.log"
        self._outputs.append(log.open("w"))
        self.processes.append(
            subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=dict(environment),
                stdout=self._outputs[-1],
                stderr=subprocess.STDOUT,
            )
        )
        self.logs.append(log)
        return self.processes[-1]

    def wait_until_up(self, url: str) -> None:
        wait_until_up(url, self.processes, self.logs)

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        for output in self._outputs:
            output.close()


def _action_server_command(port: int) -> List[str]:
    return [str(VENV_BIN / "python"), "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)]


def _rasa_command(model: Path, port: int, endpoints: Path, cors: List[str]) -> List[str]:
    listen = ["--interface", "127.0.0.1", "--port", str(port), *(["--cors", *cors] if cors else [])]
    files = ["--model", str(model), "--credentials", "credentials.yml", "--endpoints", str(endpoints)]
    return [str(VENV_BIN / "rasa"), "run", *listen, *files]


ACTION_SERVER_ENV = {"SANIC_HOST": "127.0.0.1"}
RASA_SERVER_ENV = {"SANIC_REQUEST_MAX_SIZE": str(MAX_BODY_BYTES)}


@contextmanager
def running_assistant(
    model: Path,
    folder: Path,
    action_endpoint: Optional[Mapping[str, Any]] = None,
    lock_store: Optional[Mapping[str, Any]] = None,
) -> Iterator[Assistant]:
    """The three servers with this model, as scripts/run.sh starts them (conversations in a SQLite
    tracker store, here `folder`/conversations.db); logs in `folder`; all stopped on exit. The same
    `folder` again continues its conversations. `action_endpoint`: other action endpoint options
    than endpoints.yml's (e.g. `{"enable_selective_domain": False}`; the benchmark compares them).
    `lock_store`: another lock store than endpoints.yml's (e.g. `{"type": "in_memory"}`, Rasa's)."""
    action_port, rasa_port, site_port = free_port(), free_port(), free_port()
    rasa_url, site_url = f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{site_port}"
    action_url = f"http://127.0.0.1:{action_port}/webhook"
    endpoints = write_endpoints(
        folder / "endpoints.yml",
        action_url,
        sqlite_tracker_store(folder / "conversations.db"),
        lock_store,
        action_endpoint=action_endpoint,
    )
    site = [
        str(VENV_BIN / "python"),
        "-m",
        "scripts.serve_demo",
        "--port",
        str(site_port),
        "--assistant",
        rasa_url,
    ]
    launcher = _Launcher(folder)
    try:
        launcher.start("actions", _action_server_command(action_port), {**os.environ, **ACTION_SERVER_ENV})
        launcher.start("site", site, os.environ)
        rasa_started = time.monotonic()
        rasa = launcher.start(
            "rasa", _rasa_command(model, rasa_port, endpoints, [site_url]), {**os.environ, **RASA_SERVER_ENV}
        )
        launcher.wait_until_up(f"http://127.0.0.1:{action_port}/health")
        launcher.wait_until_up(f"{site_url}/")
        launcher.wait_until_up(f"{rasa_url}/webhooks/rest/")
        yield Assistant(rasa_url, site_url, rasa.pid, rasa_started, folder)
    finally:
        launcher.close()


@contextmanager
def running_cluster(
    model: Path,
    folder: Path,
    tracker_store: Mapping[str, Any],
    lock_store: Mapping[str, Any],
    rasa_servers: int = 2,
    action_servers: int = 1,
    environment: Optional[Mapping[str, str]] = None,
) -> Iterator[Cluster]:
    """`rasa_servers` Rasa servers with this model and `action_servers` action servers, all
    started at once (the Rasa servers load their models in parallel), sharing `tracker_store` and
    `lock_store` (endpoint mappings, e.g. `postgres_tracker_store(...)`, `redis_lock_store(...)`);
    Rasa server i calls action server i % `action_servers`. Logs and endpoints files in `folder`;
    extra `environment` for every server; all stopped on exit. No demo site, no CORS origins.

    Raises RuntimeError (with the end of its log) if a server exits or is not up within
    START_TIMEOUT_S, e.g. when a store cannot be reached at start-up."""
    if rasa_servers < 1 or action_servers < 1:
        raise ValueError("at least one Rasa server and one action server")
    base_env = {**os.environ, **(environment or {})}
    action_ports = [free_port() for _ in range(action_servers)]
    action_urls = [f"http://127.0.0.1:{port}/webhook" for port in action_ports]
    rasa_ports = [free_port() for _ in range(rasa_servers)]
    launcher = _Launcher(folder)
    try:
        for number, port in enumerate(action_ports):
            launcher.start(
                f"actions-{number}", _action_server_command(port), {**base_env, **ACTION_SERVER_ENV}
            )
        servers: List[Assistant] = []
        for number, port in enumerate(rasa_ports):
            action_url = action_urls[number % action_servers]
            endpoints = write_endpoints(
                folder / f"endpoints-{number}.yml", action_url, tracker_store, lock_store
            )
            started = time.monotonic()
            rasa = launcher.start(
                f"rasa-{number}", _rasa_command(model, port, endpoints, []), {**base_env, **RASA_SERVER_ENV}
            )
            servers.append(Assistant(f"http://127.0.0.1:{port}", "", rasa.pid, started, folder))
        for port in action_ports:
            launcher.wait_until_up(f"http://127.0.0.1:{port}/health")
        for server in servers:
            launcher.wait_until_up(f"{server.base_url}/webhooks/rest/")
        yield Cluster(servers, action_urls, folder)
    finally:
        launcher.close()
