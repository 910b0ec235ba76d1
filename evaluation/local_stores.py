"""Throwaway PostgreSQL and Redis servers on 127.0.0.1 spare ports, for the scale-out tests and
benchmark (the stores of the scale-out profile: PostgreSQL as the tracker store, Redis as the lock
store). Debian's packages are installed by `scripts/install_stores.sh`.

Each context manager starts a fresh server with its data in a temporary folder, yields a handle
with its address and `stop()` / `start()` (a store that goes down and comes back, on the same
port), and stops it and deletes the folder on exit.

PostgreSQL refuses to run as root: when this runs as root, `initdb`, `pg_ctl` and `createdb` run
as the `postgres` user (`runuser`), and the folder belongs to that user. Authentication is
`trust`, on loopback only; nothing is persisted beyond the folder (fsync off: a test database).
Redis runs with no persistence (no RDB snapshots, no append-only file).

Errors: `StoreError` when a server's programs are missing or it does not come up in time (with
the end of its log).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional

START_TIMEOUT_S = 60.0
POSTGRES_USER = "postgres"  # the database superuser, and the OS user PostgreSQL runs as under root


class StoreError(RuntimeError):
    """A store's programs are missing, or the store did not start or stop."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _postgres_bin() -> Path:
    """The newest Debian PostgreSQL server's `bin` folder (it is not on PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        raise StoreError("PostgreSQL is not installed: run scripts/install_stores.sh")
    return Path(found[-1]).parent


def _as_postgres_user(command: List[str]) -> List[str]:
    """`command` run as the `postgres` user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", POSTGRES_USER, "--", *command]


@dataclass
class LocalPostgres:
    """A PostgreSQL server on 127.0.0.1:`port` with one database, `database`, owned by `user`."""

    port: int
    folder: Path  # holds data/ (the cluster), the socket and postgres.log
    database: str = "rasa"
    user: str = POSTGRES_USER
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        """SQLAlchemy URL, e.g. `postgresql://postgres@127.0.0.1:5433/rasa`."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    @property
    def log(self) -> Path:
        return self.folder / "postgres.log"

    def _pg_ctl(self, *arguments: str) -> None:
        command = _as_postgres_user(
            [str(_postgres_bin() / "pg_ctl"), "-D", str(self.folder / "data"), *arguments]
        )
        result = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT_S + 10)
        if result.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise StoreError(f"pg_ctl {arguments[-1]} failed: {result.stderr.strip()}\n{tail}")

    def start(self) -> None:
        """Starts the server (again) and waits until it accepts connections."""
        options = f"-p {self.port} -c listen_addresses={self.host} -k {self.folder} -c fsync=off"
        self._pg_ctl("-l", str(self.log), "-o", options, "-w", "-t", str(int(START_TIMEOUT_S)), "start")

    def stop(self, immediate: bool = False) -> None:
        """Stops the server: `immediate` like a crash (no shutdown checkpoint), else a fast
        shutdown (open connections are closed)."""
        self._pg_ctl("-m", "immediate" if immediate else "fast", "-w", "stop")

    @property
    def running(self) -> bool:
        return _port_open(self.port)


@contextmanager
def running_postgres(database: str = "rasa") -> Iterator[LocalPostgres]:
    """A fresh PostgreSQL cluster with the (empty) database `database`; stopped and deleted on
    exit."""
    bin_folder = _postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="kypho-postgres-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam(POSTGRES_USER)
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    server = LocalPostgres(port=_free_port(), folder=folder, database=database)
    started = False
    try:
        initdb = [str(bin_folder / "initdb"), "-D", str(folder / "data"), "-U", POSTGRES_USER]
        initdb += ["--auth=trust", "--encoding=UTF8", "--no-sync"]
        result = subprocess.run(_as_postgres_user(initdb), capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise StoreError(f"initdb failed: {result.stderr.strip()}")
        server.start()
        started = True
        createdb = [
            str(bin_folder / "createdb"),
            "-h",
            server.host,
            "-p",
            str(server.port),
            "-U",
            server.user,
        ]
        result = subprocess.run(
            _as_postgres_user([*createdb, database]), capture_output=True, text=True, timeout=60
        )
        if result.returncode != 0:
            raise StoreError(f"createdb failed: {result.stderr.strip()}")
        yield server
    finally:
        if started and server.running:
            server.stop(immediate=True)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class LocalRedis:
    """A Redis server on 127.0.0.1:`port`, no persistence."""

    port: int
    folder: Path  # its working folder and redis.log
    host: str = "127.0.0.1"
    _process: Optional[subprocess.Popen] = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Redis URL of database 0, e.g. `redis://127.0.0.1:6380/0`."""
        return f"redis://{self.host}:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.folder / "redis.log"

    def start(self) -> None:
        """Starts the server (again, empty) and waits until it answers PING."""
        executable = shutil.which("redis-server")
        if executable is None:
            raise StoreError("Redis is not installed: run scripts/install_stores.sh")
        command = [executable, "--bind", self.host, "--port", str(self.port), "--dir", str(self.folder)]
        command += ["--save", "", "--appendonly", "no", "--logfile", str(self.log), "--daemonize", "no"]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                tail = self.log.read_text()[-2000:] if self.log.exists() else ""
                raise StoreError(f"redis-server exited with {self._process.returncode}:\n{tail}")
            if self._answers_ping():
                return
            time.sleep(0.05)
        self.stop()
        raise StoreError(f"Redis not up after {START_TIMEOUT_S} s on port {self.port}")

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Stops the server (its keys are gone: no persistence)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None


@contextmanager
def running_redis() -> Iterator[LocalRedis]:
    """A fresh Redis server; stopped and its folder deleted on exit."""
    folder = Path(tempfile.mkdtemp(prefix="kypho-redis-"))
    server = LocalRedis(port=_free_port(), folder=folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
