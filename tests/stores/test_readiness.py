"""Readiness and store outages with real servers: a Rasa server on PostgreSQL (tracker store) and
Redis (lock store, the project's atomic one) on loopback, whose stores go down and come back; a
Rasa server whose PostgreSQL is down at start-up (started at the same time, to save time); and the
default SQLite profile (the session's `assistant`)."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests
import sqlalchemy as sa

from actions.clinic import load_clinic
from channels.message_guard import channel_text
from evaluation.local_stores import LocalPostgres, LocalRedis, running_postgres, running_redis
from evaluation.servers import (
    VENV_BIN,
    Assistant,
    free_port,
    postgres_tracker_store,
    redis_lock_store,
    running_cluster,
    write_endpoints,
)
from nlu_components.paths import PROJECT_ROOT
from scripts.train import MODEL_PATH

PASSWORD = "pg-password-never-shown-4e7a"
APOLOGY = channel_text("no_reply")  # the clinic's number and the emergency number


@dataclass
class ScaleOutProfile:
    server: Assistant  # on `postgres` and `redis`
    postgres: LocalPostgres
    redis: LocalRedis
    log: Path  # the server's log
    no_database: subprocess.Popen  # a Rasa server started with its PostgreSQL down
    no_database_log: Path
    no_database_port: int


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleOutProfile]:
    folder = tmp_path_factory.mktemp("readiness")
    with running_postgres() as postgres, running_redis() as redis:
        # First the server that cannot start (nothing listens on its database port): it runs while
        # the other one loads its model.
        closed = free_port()
        endpoints = write_endpoints(
            folder / "endpoints-no-database.yml",
            "http://127.0.0.1:1/webhook",
            postgres_tracker_store("127.0.0.1", closed, "rasa", "rasa", PASSWORD),
            redis_lock_store(redis.host, redis.port),
        )
        log = folder / "no-database.log"
        with log.open("w") as output:
            command = [str(VENV_BIN / "rasa"), "run", "--interface", "127.0.0.1", "--port", str(free_port())]
            command += [
                "--model",
                str(MODEL_PATH),
                "--credentials",
                "credentials.yml",
                "--endpoints",
                str(endpoints),
            ]
            no_database = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env={**os.environ, "STORE_START_UP_WAIT_S": "1"},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            tracker_store = postgres_tracker_store(
                postgres.host, postgres.port, postgres.database, postgres.user
            )
            lock_store = redis_lock_store(redis.host, redis.port)
            with running_cluster(MODEL_PATH, folder, tracker_store, lock_store, 1, 1) as cluster:
                yield ScaleOutProfile(
                    cluster.servers[0], postgres, redis, folder / "rasa-0.log", no_database, log, closed
                )
        finally:
            if no_database.poll() is None:
                no_database.kill()
            no_database.wait(timeout=30)


def readiness(server: Assistant) -> requests.Response:
    return requests.get(f"{server.base_url}/webhooks/ready", timeout=10)


def texts(server: Assistant, sender: str, message: str) -> List[str]:
    response = server.post(json={"sender": sender, "message": message})
    assert response.status_code == 200
    return [reply["text"] for reply in response.json()]


def stored_user_messages(postgres: LocalPostgres, sender: str) -> List[str]:
    engine = sa.create_engine(postgres.url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id"),
                {"s": sender},
            ).fetchall()
    finally:
        engine.dispose()
    return [json.loads(data)["text"] for (data,) in rows]


def up(kind: str) -> Dict[str, Any]:
    return {"kind": kind, "status": "up"}


def test_with_postgresql_down_the_server_does_not_start_and_says_why(profile: ScaleOutProfile) -> None:
    assert profile.no_database.wait(timeout=120) == 1
    output = profile.no_database_log.read_text()
    expected = (
        f"StoreUnavailable: the tracker store (PostgreSQL at 127.0.0.1:{profile.no_database_port}/rasa) "
        "cannot be reached (OperationalError: connection to server at"
    )
    assert expected in output
    assert "Traceback" not in output and "Rasa server is up and running" not in output
    assert PASSWORD not in output


def test_the_apology_gives_the_clinic_and_the_emergency_number() -> None:
    clinic = load_clinic()
    assert clinic.phone in APOLOGY and clinic.emergency_number in APOLOGY and APOLOGY.startswith("Sorry")


def test_ready_when_both_stores_answer(profile: ScaleOutProfile) -> None:
    response = readiness(profile.server)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "model": "loaded",
        "tracker_store": up("PostgreSQL"),
        "lock_store": up("Redis"),
    }
    assert requests.get(f"{profile.server.base_url}/webhooks/rest/", timeout=10).json() == {"status": "ok"}


def test_a_store_outage_is_reported_the_patient_gets_the_clinic_and_the_conversation_goes_on(
    profile: ScaleOutProfile,
) -> None:
    server, sender = profile.server, secrets.token_hex(16)
    answer = texts(server, sender, "how long is recovery after kyphoplasty?")
    sources = next(text for text in answer if text.startswith("Sources:"))

    profile.postgres.stop()
    try:
        response = readiness(server)
        assert response.status_code == 503
        body = response.json()
        assert (body["status"], body["down"], body["lock_store"]) == (
            "not ready",
            ["tracker store"],
            up("Redis"),
        )
        assert body["tracker_store"] == {"kind": "PostgreSQL", "status": "down", "error": "OperationalError"}
        assert str(profile.postgres.port) not in response.text and "127.0.0.1" not in response.text
        # Rasa alone answers this from an empty in-memory conversation and never stores it.
        assert texts(server, sender, "what are the risks while postgres is down?") == [APOLOGY]
        assert requests.get(f"{server.base_url}/webhooks/rest/", timeout=10).status_code == 200  # alive
    finally:
        profile.postgres.start()
    assert readiness(server).status_code == 200

    profile.redis.stop()
    try:
        response = readiness(server)
        assert response.status_code == 503
        assert response.json() == {
            "status": "not ready",
            "down": ["lock store"],
            "model": "loaded",
            "tracker_store": up("PostgreSQL"),
            "lock_store": {"kind": "Redis", "status": "down", "error": "ConnectionError"},
        }
        # Not a bare 500, not []: the clinic and the emergency number.
        assert texts(server, sender, "is kyphoplasty painful while redis is down?") == [APOLOGY]
    finally:
        profile.redis.start()  # empty: Redis keeps only locks
    assert readiness(server).status_code == 200

    # The follow-up needs the last answer from before the outages: the history is intact.
    assert sources in texts(server, sender, "where is that from?")
    assert stored_user_messages(profile.postgres, sender) == [
        "how long is recovery after kyphoplasty?",
        "where is that from?",
    ]
    log = profile.log.read_text()
    failed = (
        r"ERROR +stores\.tracker_store +- the tracker store \(PostgreSQL at 127\.0\.0\.1:\d+/rasa\) failed"
    )
    assert re.search(failed + r" \(OperationalError\); the message is not answered", log)
    assert re.search(
        r"ERROR +channels\.answering +- rest: no reply to a message of conversation \w+ \(LockError\)", log
    )
    assert re.search(
        r"WARNING +stores\.readiness +- readiness: the lock store \(Redis at 127\.0\.0\.1:\d+/1\)", log
    )
    assert "while redis is down" not in log and "while postgres is down" not in log


def test_ready_on_the_default_sqlite_profile(assistant: Assistant) -> None:
    response = readiness(assistant)
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["model"], body["tracker_store"]) == ("ready", "loaded", up("SQLite"))
    assert body["lock_store"] in (up("in memory"), up("in process"))  # Rasa's or the project's, one server
