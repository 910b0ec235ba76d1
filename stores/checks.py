"""Does a store answer? A cheap real query to the tracker store or the lock store, with a timeout.

- SQL tracker stores (PostgreSQL, SQLite...): `SELECT 1` on the store's own engine (its pool, its
  credentials).
- Redis (tracker store or lock store, stock or the project's): `PING` on the store's own client.
- In-process stores (in memory): nothing to reach, always up.
- Any other kind: not checked (reported as such, never as down).

A `StoreCheck` names the store's kind and address (host:port and database, or the SQLite file),
never a user name or password, and on failure the error's type only: a driver's message can hold
a statement's parameters, i.e. a patient's words.

Checks run in a small executor of their own, one at a time per store: a store that hangs (a
blackholed host) makes its check time out without piling up threads; the next check of that store
reports it down until the hung one returns.
"""

from __future__ import annotations

import asyncio
import inspect
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

import sqlalchemy as sa
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import InMemoryTrackerStore, SQLTrackerStore

TRACKER_STORE, LOCK_STORE = "tracker store", "lock store"
DEFAULT_TIMEOUT_S = 2.0

Probe = Callable[[], Any]  # raises when the store does not answer; may return an awaitable

_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="store-check")
_in_flight: Dict[int, Future] = {}  # id(store) -> its running check


@dataclass(frozen=True)
class StoreCheck:
    """The answer of one store: `role` "tracker store" or "lock store"; `kind` e.g. "PostgreSQL",
    "SQLite", "Redis", "in memory"; `address` e.g. "127.0.0.1:5432/rasa" ("" for in-process
    stores); `error` the failure's type (None when it answered); `checked` False for kinds this
    module cannot query."""

    role: str
    kind: str
    address: str
    error: Optional[str] = None
    checked: bool = True

    @property
    def up(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        """e.g. "the lock store (Redis at 127.0.0.1:6379/1)"."""
        where = f" at {self.address}" if self.address else ""
        return f"the {self.role} ({self.kind}{where})"

    def as_json(self) -> Dict[str, Any]:
        """What the readiness endpoint shows: kind and status, no address (the endpoint is not
        authenticated; the address is in the server's log)."""
        status = "up" if self.up else "down"
        shown: Dict[str, Any] = {"kind": self.kind, "status": status if self.checked else "not checked"}
        if self.error:
            shown["error"] = self.error
        return shown


def unwrapped(store: Any) -> Any:
    """The store inside Rasa's wrappers (`FailSafeTrackerStore`, `AwaitableTrackerStore`)."""
    while hasattr(store, "_tracker_store"):
        store = store._tracker_store
    return store


def sql_kind_and_address(url: sa.engine.URL) -> Tuple[str, str]:
    """("PostgreSQL", "db.internal:5432/rasa") or ("SQLite", "state/conversations.db"): no user
    name, no password."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        return "SQLite", url.database or "(in memory)"
    kind = {"postgresql": "PostgreSQL", "mysql": "MySQL", "mssql": "SQL Server", "oracle": "Oracle"}.get(
        backend, backend
    )
    port = f":{url.port}" if url.port else ""
    database = f"/{url.database}" if url.database else ""
    return kind, f"{url.host or 'localhost'}{port}{database}"


def redis_address(client: Any) -> str:
    """The address of a redis-py client (sync or asyncio): "host:port/db", or "socket-path/db"."""
    options = client.connection_pool.connection_kwargs
    if options.get("path"):
        return f"{options['path']}/{options.get('db', 0)}"
    return f"{options.get('host', 'localhost')}:{options.get('port', 6379)}/{options.get('db', 0)}"


def _select_one(engine: sa.engine.Engine) -> None:
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


def probe_of(store: Any) -> Tuple[str, str, Optional[Probe]]:
    """(kind, address, probe) of a tracker store or lock store; probe None: nothing to query
    (in-process) or a kind this module does not know (`kind` then ends with "(not checked)")."""
    store = unwrapped(store)
    if isinstance(store, (InMemoryTrackerStore, InMemoryLockStore)):
        return "in memory", "", None
    if isinstance(store, SQLTrackerStore):
        engine = store.engine
        return (*sql_kind_and_address(engine.url), lambda: _select_one(engine))
    client = getattr(store, "red", None)  # Rasa's Redis tracker and lock stores, and subclasses
    if client is not None and hasattr(client, "ping"):
        return "Redis", redis_address(client), client.ping
    if not any(hasattr(store, name) for name in ("engine", "red", "client", "host", "url")):
        return "in process", "", None  # e.g. the project's in-process lock store: nothing to reach
    return type(store).__name__, "", None


def check_now(role: str, store: Any) -> StoreCheck:
    """Queries the store now, in this thread, with the client's own timeouts (start-up, where
    Rasa builds its stores synchronously inside the running event loop)."""
    kind, address, probe = probe_of(store)
    if probe is None:
        return StoreCheck(role, kind, address, checked=kind in ("in memory", "in process"))
    try:
        result = probe()
    except Exception as error:
        return StoreCheck(role, kind, address, error=type(error).__name__)
    if inspect.isawaitable(result):  # an asyncio client: only `check` can query it
        getattr(result, "close", lambda: None)()
        return StoreCheck(role, kind, address, checked=False)
    return StoreCheck(role, kind, address)


async def check(role: str, store: Any, timeout_s: float = DEFAULT_TIMEOUT_S) -> StoreCheck:
    """Queries the store, giving up after `timeout_s` seconds (then `error` is "timeout")."""
    kind, address, probe = probe_of(store)
    if probe is None:
        return StoreCheck(role, kind, address, checked=kind in ("in memory", "in process"))
    key = id(unwrapped(store))
    try:
        running = _in_flight.get(key)
        if running is not None and not running.done():
            return StoreCheck(role, kind, address, error="timeout")
        if inspect.iscoroutinefunction(probe):  # an asyncio client: query it on this loop
            await asyncio.wait_for(probe(), timeout_s)
        else:
            future = _executor.submit(probe)
            _in_flight[key] = future
            result = await asyncio.wait_for(asyncio.wrap_future(future), timeout_s)
            if inspect.isawaitable(result):
                await asyncio.wait_for(result, timeout_s)
    except asyncio.TimeoutError:
        return StoreCheck(role, kind, address, error="timeout")
    except Exception as error:
        return StoreCheck(role, kind, address, error=type(error).__name__)
    return StoreCheck(role, kind, address)
