"""Store outages without a server: the strict tracker store, the start-up checks, the store checks
of the readiness endpoint (stores/). The same with real servers: test_readiness.py."""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path
from typing import Iterator

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.core.lock_store import InMemoryLockStore, RedisLockStore
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from channels.message_guard import channel_text
from channels.messaging import Inbound
from stores.checks import LOCK_STORE, TRACKER_STORE, check, check_now
from stores.tracker_store import StoreUnavailable, StrictSQLTrackerStore
from tests.channels.test_answering import RecordingChannel

PASSWORD = "not-in-any-message-9f1c"


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def sqlite_store(tmp_path: Path) -> StrictSQLTrackerStore:
    folder = tmp_path / "state"
    folder.mkdir()
    return StrictSQLTrackerStore(dialect="sqlite", db=str(folder / "conversations.db"))


def test_a_tracker_store_that_cannot_be_reached_stops_the_start_up_with_one_line() -> None:
    port = closed_port()
    with pytest.raises(StoreUnavailable) as raised:
        StrictSQLTrackerStore(
            dialect="postgresql", host="127.0.0.1", port=port, db="rasa", username="rasa",
            password=PASSWORD, start_up_wait_s=0,
        )  # fmt: skip
    message = str(raised.value)
    assert message.startswith(f"the tracker store (PostgreSQL at 127.0.0.1:{port}/rasa) cannot be reached (")
    assert "Connection refused" in message
    assert PASSWORD not in message and "rasa@" not in message and "\n" not in message


def test_a_sqlite_file_that_cannot_be_opened_stops_the_start_up(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "conversations.db"
    with pytest.raises(StoreUnavailable, match=r"the tracker store \(SQLite at .*conversations\.db\)"):
        StrictSQLTrackerStore(dialect="sqlite", db=str(missing), start_up_wait_s=0)


def test_a_failing_tracker_store_fails_the_message_and_keeps_nothing_in_memory(
    sqlite_store: StrictSQLTrackerStore,
) -> None:
    tracker_store = Agent(tracker_store=sqlite_store).tracker_store  # as the Rasa server builds it
    assert isinstance(tracker_store, FailSafeTrackerStore)  # Rasa's wrapper, with our error callback
    tracker = DialogueStateTracker.from_events("patient-1", [UserUttered("hello")])
    asyncio.run(tracker_store.save(tracker))
    stored = asyncio.run(tracker_store.retrieve("patient-1"))
    assert stored is not None and stored.latest_message.text == "hello"

    shutil.rmtree(Path(sqlite_store.engine.url.database).parent)  # the database is gone
    failed = r"the tracker store \(SQLite at .*\) failed \(OperationalError\)"
    with pytest.raises(StoreUnavailable, match=failed):
        asyncio.run(tracker_store.retrieve("patient-1"))  # Rasa alone: None, i.e. a new conversation
    with pytest.raises(StoreUnavailable):
        asyncio.run(tracker_store.save(tracker))  # Rasa alone: saved in this process's memory
    assert tracker_store._fallback_tracker_store is None  # no in-memory store was ever made


def test_a_lock_store_that_cannot_be_reached_stops_the_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORE_START_UP_WAIT_S", "0")
    port = closed_port()
    with pytest.raises(StoreUnavailable) as raised:
        Agent(lock_store=RedisLockStore(host="127.0.0.1", port=port, password=PASSWORD))
    assert str(raised.value) == (
        f"the lock store (Redis at 127.0.0.1:{port}/1) cannot be reached (ConnectionError)"
    )


def test_an_in_process_lock_store_has_nothing_to_reach() -> None:
    result = check_now(LOCK_STORE, InMemoryLockStore())
    assert result.up
    assert result.as_json() == {"kind": "in memory", "status": "up"}


def test_store_checks_name_the_store_and_the_error_type_only(sqlite_store: StrictSQLTrackerStore) -> None:
    assert asyncio.run(check(TRACKER_STORE, sqlite_store)).as_json() == {"kind": "SQLite", "status": "up"}
    port = closed_port()
    down = asyncio.run(check(LOCK_STORE, RedisLockStore(host="127.0.0.1", port=port, password=PASSWORD)))
    assert down.as_json() == {"kind": "Redis", "status": "down", "error": "ConnectionError"}
    assert down.describe() == f"the lock store (Redis at 127.0.0.1:{port}/1)"  # for the log only


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung store); closed at the end."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_a_store_that_hangs_is_down_after_the_timeout_without_piling_up_checks(silent_server: int) -> None:
    store = RedisLockStore(host="127.0.0.1", port=silent_server, socket_timeout=10)

    async def two_checks() -> tuple:
        first = await check(LOCK_STORE, store, timeout_s=0.3)
        second = await check(LOCK_STORE, store, timeout_s=0.3)  # the first one still hangs
        return first, second

    first, second = asyncio.run(two_checks())
    assert first.as_json() == second.as_json() == {"kind": "Redis", "status": "down", "error": "timeout"}


@pytest.mark.parametrize("text", ["is it safe?", "2"])  # "2": an option, read from the tracker store first
def test_a_messaging_patient_gets_the_clinic_when_the_tracker_store_is_down(
    sqlite_store: StrictSQLTrackerStore, text: str
) -> None:
    tracker_store = Agent(tracker_store=sqlite_store).tracker_store
    shutil.rmtree(Path(sqlite_store.engine.url.database).parent)

    async def rasa(message: UserMessage) -> None:  # what Rasa's processor does first
        await tracker_store.get_or_create_tracker(message.sender_id)

    channel = RecordingChannel()
    asyncio.run(channel.handle(Inbound("m1", "u1", {}, text), rasa, tracker_store))
    assert channel.sent == [channel_text("no_reply")]
