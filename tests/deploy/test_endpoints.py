"""The scale-out endpoints (deploy/endpoints.scale.yml), the one copy that compose and Kubernetes
run: the same as endpoints.yml but for the stores, the stores the scale-out tests run (the
project's tracker store on PostgreSQL, its atomic Redis lock store), and read by Rasa itself with
the environment compose gives a Rasa server, against real PostgreSQL and Redis (Debian's, on
loopback spare ports: evaluation/local_stores.py): a conversation saved through one server's
stores is read back through another's, the lock is taken, and the readiness checks see both up."""

from __future__ import annotations

import asyncio
import inspect
import re
import secrets
from typing import Any, Dict, Iterator, Tuple

import pytest
import yaml
from rasa.core.lock_store import LockStore
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.shared.utils.common import class_from_module_path

from evaluation.local_stores import LocalPostgres, LocalRedis, running_postgres, running_redis
from evaluation.servers import ATOMIC_REDIS_LOCK_STORE, postgres_tracker_store, redis_lock_store
from nlu_components.paths import PROJECT_ROOT
from stores.checks import LOCK_STORE, TRACKER_STORE, check
from tests.deploy.conftest import SCALE_ENDPOINTS

SCALE = yaml.safe_load(SCALE_ENDPOINTS.read_text())
PROJECT = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text())


def test_same_as_endpoints_yml_but_for_the_stores_and_the_action_servers_address() -> None:
    assert set(PROJECT) <= set(SCALE) and set(SCALE) - set(PROJECT) <= {"lock_store"}
    assert {k: v for k, v in SCALE["action_endpoint"].items() if k != "url"} == {
        k: v for k, v in PROJECT["action_endpoint"].items() if k != "url"
    }
    # the same tracker store class as a single server (no silent fallback), on PostgreSQL
    assert SCALE["tracker_store"]["type"] == PROJECT["tracker_store"]["type"]
    assert issubclass(class_from_module_path(SCALE["tracker_store"]["type"]), SQLTrackerStore)
    assert SCALE["tracker_store"]["dialect"] == "postgresql"


def test_stores_are_the_ones_the_scale_out_tests_run() -> None:
    """evaluation/servers.py builds the tested cluster's stores: the same kinds and keys."""
    lock_store = SCALE["lock_store"]
    assert lock_store["type"] == ATOMIC_REDIS_LOCK_STORE == "stores.lock_store.AtomicRedisLockStore"
    lock_class = class_from_module_path(lock_store["type"])
    assert issubclass(lock_class, LockStore)
    tested_lock = redis_lock_store("host", 1)
    assert set(tested_lock) <= set(lock_store)
    assert lock_store["db"] == tested_lock["db"]
    accepted = set(inspect.signature(lock_class.__init__).parameters) | {"type", "url"}
    assert set(lock_store) <= accepted
    tested_tracker = postgres_tracker_store("host", 1, "db", "user", "password")
    assert set(tested_tracker) - {"type"} <= set(SCALE["tracker_store"])
    assert tested_tracker["dialect"] == SCALE["tracker_store"]["dialect"]


def test_every_secret_is_read_from_the_environment() -> None:
    for store in ("tracker_store", "lock_store"):
        assert re.fullmatch(r"\$\{[A-Z_]+\}", SCALE[store]["password"])
        assert re.fullmatch(r"\$\{[A-Z_]+\}", SCALE[store]["url"])


@pytest.fixture(scope="module")
def stores() -> Iterator[Tuple[LocalPostgres, LocalRedis]]:
    with running_postgres() as postgres, running_redis() as redis_server:
        yield postgres, redis_server


def compose_environment(postgres: LocalPostgres, redis_server: LocalRedis) -> Dict[str, str]:
    """A compose Rasa server's environment (deploy/compose.yml), pointed at the local stores."""
    compose = yaml.safe_load((PROJECT_ROOT / "deploy" / "compose.yml").read_text())
    environment = {key: str(value) for key, value in compose["services"]["rasa-1"]["environment"].items()}
    environment.update(
        TRACKER_STORE_HOST=postgres.host,
        TRACKER_STORE_PORT=str(postgres.port),
        TRACKER_STORE_DB=postgres.database,
        TRACKER_STORE_USER=postgres.user,
        TRACKER_STORE_PASSWORD="",  # the local server trusts loopback
        LOCK_STORE_HOST=redis_server.host,
        LOCK_STORE_PORT=str(redis_server.port),
        LOCK_STORE_PASSWORD="",
    )
    return environment


def test_rasa_reads_the_endpoints_and_its_stores_work_across_servers(
    stores: Tuple[LocalPostgres, LocalRedis], monkeypatch: pytest.MonkeyPatch
) -> None:
    postgres, redis_server = stores
    for key, value in compose_environment(postgres, redis_server).items():
        monkeypatch.setenv(key, value)
    endpoints = AvailableEndpoints.read_endpoints(str(SCALE_ENDPOINTS))
    assert endpoints.action.url == "http://actions:5055/webhook"
    assert endpoints.action.kwargs == {"enable_selective_domain": True}

    domain = Domain.empty()
    first_server = TrackerStore.create(endpoints.tracker_store, domain)
    second_server = TrackerStore.create(endpoints.tracker_store, domain)
    assert type(first_server).__name__ == SCALE["tracker_store"]["type"].rsplit(".", 1)[1]
    lock_store = LockStore.create(endpoints.lock_store)
    assert type(lock_store).__name__ == "AtomicRedisLockStore"
    sender = secrets.token_hex(16)
    events = [ActionExecuted("action_listen"), UserUttered("what is kyphoplasty?")]

    async def one_turn_then_checks() -> Tuple[DialogueStateTracker, bool, Any, Any]:
        async with lock_store.lock(sender):
            held = lock_store.get_lock(sender) is not None
            await first_server.save(DialogueStateTracker.from_events(sender, events))
        stored = await second_server.retrieve(sender)
        results = await asyncio.gather(check(TRACKER_STORE, first_server), check(LOCK_STORE, lock_store))
        return stored, held, results[0], results[1]

    stored, held, tracker_check, lock_check = asyncio.run(one_turn_then_checks())
    assert [event.as_dict()["event"] for event in stored.events] == ["action", "user"]
    assert stored.latest_message.text == "what is kyphoplasty?"
    assert held
    assert (tracker_check.kind, tracker_check.up, tracker_check.checked) == ("PostgreSQL", True, True)
    assert (lock_check.kind, lock_check.up, lock_check.checked) == ("Redis", True, True)
    assert lock_check.address == f"{redis_server.host}:{redis_server.port}/1"


def test_a_missing_setting_stops_rasa_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    compose = yaml.safe_load((PROJECT_ROOT / "deploy" / "compose.yml").read_text())
    for key in compose["services"]["rasa-1"]["environment"]:
        monkeypatch.setenv(key, "5432")
    monkeypatch.delenv("LOCK_STORE_HOST")
    with pytest.raises(RasaException, match="LOCK_STORE_HOST"):
        AvailableEndpoints.read_endpoints(str(SCALE_ENDPOINTS))
