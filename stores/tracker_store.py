"""Rasa's SQL tracker store without its silent ways around an unreachable database.

Rasa 3.6 hides a tracker store outage twice (rasa/core/tracker_store.py, rasa/core/agent.py):

- at start-up, `SQLTrackerStore` logs the failed `CREATE TABLE` and starts anyway (or retries
  forever, every 5 s, when it must create the database);
- per message, the `Agent` wraps every tracker store in a `FailSafeTrackerStore`, which answers a
  failed `retrieve` with "no conversation" (the patient's context is lost) and a failed `save`
  by saving to an `InMemoryTrackerStore` of that process (the message is never stored).

Here instead:

- `StrictSQLTrackerStore` (endpoints.yml: `tracker_store: type: stores.tracker_store.
  StrictSQLTrackerStore`, with the keys of Rasa's SQL store) waits up to `start_up_wait_s`
  (default 10 s) for the database to answer, then raises `StoreUnavailable`: the Rasa server
  exits with one line, e.g. "StoreUnavailable: the tracker store (PostgreSQL at
  db.internal:5432/rasa) cannot be reached (OperationalError: connection refused)". Its engine
  re-checks pooled connections before use (`pool_pre_ping`: a restarted database is used again
  at once) and, on PostgreSQL, gives up connecting after `connect_timeout_s` (default 5 s).
- `install()` (run when Rasa imports this module, i.e. before it builds its Agent) keeps Rasa's
  `FailSafeTrackerStore` but gives it an error callback that logs an ERROR naming the store and the
  operation (not the error's text, which can hold a statement's parameters: a patient's words) and
  raises `StoreUnavailable`: the message fails, and the channel sends the `no_reply` text (the
  clinic's number, the emergency number; channels/answering.py). Nothing is kept in memory.
  It also checks the lock store when the Agent is built: an unreachable Redis lock store stops
  the server the same way (waiting up to `STORE_START_UP_WAIT_S` seconds, default 10).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable, Dict, Optional

import sqlalchemy as sa
import sqlalchemy.exc
import sqlalchemy.orm
from rasa.core.agent import Agent
from rasa.core.brokers.broker import EventBroker
from rasa.core.lock_store import LockStore
from rasa.core.tracker_store import (
    FailSafeTrackerStore,
    SQLTrackerStore,
    TrackerStore,
    create_engine_kwargs,
    validate_port,
)
from rasa.shared.core.domain import Domain
from rasa.shared.exceptions import RasaException

from stores.checks import LOCK_STORE, TRACKER_STORE, StoreCheck, check_now, sql_kind_and_address

logger = logging.getLogger(__name__)

DEFAULT_START_UP_WAIT_S = 10.0
DEFAULT_CONNECT_TIMEOUT_S = 5.0
RETRY_EVERY_S = 1.0


class StoreUnavailable(RasaException):
    """A tracker store or lock store does not answer. The message names the store, its kind and
    address (never credentials) and the error's type; Rasa's command line prints it as one line and
    exits with status 1 when it is raised at start-up."""


def configured_start_up_wait_s() -> float:
    """How long start-up waits for a store to answer: `STORE_START_UP_WAIT_S`, default 10 s."""
    return float(os.environ.get("STORE_START_UP_WAIT_S", DEFAULT_START_UP_WAIT_S))


def _first_line(error: BaseException, password: Optional[str]) -> str:
    """The driver's own first line of a connection error ("connection refused", "password
    authentication failed for user..."), with the password blanked should it appear."""
    origin = getattr(error, "orig", None) or error
    line = next((part.strip() for part in str(origin).splitlines() if part.strip()), "")
    if password:
        line = line.replace(password, "***")
    return f"{type(origin).__name__}: {line}" if line else type(origin).__name__


class StrictSQLTrackerStore(SQLTrackerStore):
    """Rasa's `SQLTrackerStore` (same events table, same keys in endpoints.yml) that refuses to
    start on a database it cannot reach.

    Args (besides `SQLTrackerStore`'s: dialect, host (endpoints.yml `url`), port, db, username,
    password, login_db, query):
        start_up_wait_s: seconds to wait for the database at start-up (default
            `STORE_START_UP_WAIT_S` or 10); retried every second.
        connect_timeout_s: PostgreSQL connect timeout in seconds (default 5), unless the URL's
            query sets `connect_timeout`.

    Raises:
        StoreUnavailable: the database did not answer within `start_up_wait_s`.
    """

    def __init__(
        self,
        domain: Optional[Domain] = None,
        dialect: str = "sqlite",
        host: Optional[str] = None,
        port: Optional[int] = None,
        db: str = "rasa.db",
        username: Optional[str] = None,
        password: Optional[str] = None,
        event_broker: Optional[EventBroker] = None,
        login_db: Optional[str] = None,
        query: Optional[Dict] = None,
        start_up_wait_s: Optional[float] = None,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        **kwargs: Any,
    ) -> None:
        url = sa.engine.make_url(
            self.get_db_url(dialect, host, validate_port(port), db, username, password, login_db, query)
        )
        if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
            url = url.update_query_dict({"connect_timeout": str(max(1, round(connect_timeout_s)))})
        self.engine = self._engine(url)
        wait_s = configured_start_up_wait_s() if start_up_wait_s is None else float(start_up_wait_s)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                if login_db:  # Rasa's way: connect to `login_db`, create `db`, use `db`
                    self._create_database_and_update_engine(db, url)
                    self.engine = self._engine(self.engine.url)
                # Retried on failure too: replicas starting together may race to create the table.
                self.Base.metadata.create_all(self.engine)
                break
            except sqlalchemy.exc.SQLAlchemyError as error:
                if time.monotonic() + RETRY_EVERY_S > deadline:
                    raise StoreUnavailable(
                        f"{self.description} cannot be reached ({_first_line(error, url.password)})"
                    ) from None
                logger.warning("%s does not answer yet (%s); retrying", self.description,
                               type(error).__name__)  # fmt: skip
                time.sleep(RETRY_EVERY_S)
        self.sessionmaker = sa.orm.sessionmaker(bind=self.engine)
        TrackerStore.__init__(self, domain, event_broker, **kwargs)

    @staticmethod
    def _engine(url: sa.engine.URL) -> sa.engine.Engine:
        return sa.create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))

    @property
    def description(self) -> str:
        """e.g. "the tracker store (PostgreSQL at db.internal:5432/rasa)": no credentials."""
        kind, address = sql_kind_and_address(self.engine.url)
        return StoreCheck(TRACKER_STORE, kind, address).describe()


def _description_of(store: TrackerStore) -> str:
    if isinstance(store, StrictSQLTrackerStore):
        return store.description
    return f"the tracker store ({type(store).__name__})"


def failing_loudly(store: TrackerStore) -> Callable[[Exception], None]:
    """The error callback for Rasa's `FailSafeTrackerStore`: log, then raise instead of falling
    back to memory."""
    description = _description_of(store)

    def fail(error: Exception) -> None:
        logger.error("%s failed (%s); the message is not answered and nothing is kept in memory",
                     description, type(error).__name__)  # fmt: skip
        raise StoreUnavailable(f"{description} failed ({type(error).__name__})") from error

    return fail


def _tracker_store_without_fallback(store: Optional[TrackerStore], domain: Domain) -> TrackerStore:
    """`Agent._create_tracker_store`, with a callback that raises instead of falling back."""
    wrapped = _rasa_create_tracker_store(store, domain)
    if isinstance(wrapped, FailSafeTrackerStore) and wrapped._on_tracker_store_error is None:
        wrapped._on_tracker_store_error = failing_loudly(wrapped._tracker_store)
    return wrapped


def checked_lock_store(store: Optional[LockStore]) -> LockStore:
    """`Agent._create_lock_store`, after checking that the lock store answers (retried for
    `STORE_START_UP_WAIT_S` seconds).

    Raises:
        StoreUnavailable: it did not answer.
    """
    lock_store = _rasa_create_lock_store(store)
    deadline = time.monotonic() + configured_start_up_wait_s()
    while True:
        result = check_now(LOCK_STORE, lock_store)
        if result.up:
            return lock_store
        if time.monotonic() + RETRY_EVERY_S > deadline:
            raise StoreUnavailable(f"{result.describe()} cannot be reached ({result.error})")
        logger.warning("%s does not answer yet (%s); retrying", result.describe(), result.error)
        time.sleep(RETRY_EVERY_S)


class WithoutStartUpTraceback(logging.Filter):
    """Sanic logs a failed start-up with the whole traceback before Rasa prints its one line: for
    `StoreUnavailable`, that one line is all there is to say."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], StoreUnavailable):
            record.msg, record.args = f"The Rasa server stops: {record.exc_info[1]}", None
            record.exc_info, record.exc_text = None, None
        return True


_rasa_create_tracker_store = Agent._create_tracker_store
_rasa_create_lock_store = Agent._create_lock_store


def install() -> None:
    """Makes every Agent built from now on fail loudly on its stores (idempotent)."""
    Agent._create_tracker_store = staticmethod(_tracker_store_without_fallback)  # type: ignore[method-assign]
    Agent._create_lock_store = staticmethod(checked_lock_store)  # type: ignore[method-assign]
    sanic_errors = logging.getLogger("sanic.error")
    if not any(isinstance(f, WithoutStartUpTraceback) for f in sanic_errors.filters):
        sanic_errors.addFilter(WithoutStartUpTraceback())


install()  # Rasa imports this module (endpoints.yml) before it builds its Agent
