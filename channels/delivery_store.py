"""What the messaging channels must remember beyond one request: which platform message ids were
already taken (platforms retry, so the same message can arrive twice) and which SMS/WhatsApp
numbers asked to stop getting messages.

A SQL database through SQLAlchemy, so that several Rasa servers can share it: by default a SQLite
file in `state/` (ignored by git); set `CHANNEL_STATE_URL` to a shared database (for example the
PostgreSQL of the tracker store) when more than one server runs. A duplicate is detected by the
primary key, so two servers receiving the same retry at the same moment still take it once.
"""

from __future__ import annotations

import asyncio
import os
import time
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Column, Float, MetaData, String, Table, create_engine, delete, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from nlu_components.paths import PROJECT_ROOT

DEFAULT_URL = f"sqlite:///{PROJECT_ROOT / 'state' / 'channel_state.db'}"
KEEP_DELIVERIES_S = 7 * 24 * 3600  # platforms retry for hours at most; a week is plenty

_metadata = MetaData()
deliveries = Table(
    "channel_deliveries",
    _metadata,
    Column("channel", String(32), primary_key=True),
    Column("message_id", String(255), primary_key=True),
    Column("received_at", Float, nullable=False),  # seconds since the epoch
)
opt_outs = Table(
    "channel_opt_outs",
    _metadata,
    Column("channel", String(32), primary_key=True),
    Column("recipient", String(255), primary_key=True),
    Column("since", Float, nullable=False),
)


class DeliveryStore:
    """Deliveries taken and opt-outs, keyed by channel name. Every method is a coroutine that runs
    the (short) database call in a worker thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        _metadata.create_all(engine)

    @classmethod
    def from_url(cls, url: str) -> DeliveryStore:
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        return cls(create_engine(url, future=True))

    async def first_delivery(self, channel: str, message_id: str) -> bool:
        """True the first time this channel's message id is seen, False for every repeat."""
        return await asyncio.to_thread(self._take, channel, message_id[:255])

    def _take(self, channel: str, message_id: str) -> bool:
        now = time.time()
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    insert(deliveries).values(channel=channel, message_id=message_id, received_at=now)
                )
        except IntegrityError:
            return False
        with self._engine.begin() as connection:
            connection.execute(delete(deliveries).where(deliveries.c.received_at < now - KEEP_DELIVERIES_S))
        return True

    async def set_opted_out(self, channel: str, recipient: str, opted_out: bool) -> None:
        await asyncio.to_thread(self._set_opted_out, channel, recipient, opted_out)

    def _set_opted_out(self, channel: str, recipient: str, opted_out: bool) -> None:
        with self._engine.begin() as connection:
            key = (opt_outs.c.channel == channel) & (opt_outs.c.recipient == recipient)
            connection.execute(delete(opt_outs).where(key))
            if opted_out:
                row = {"channel": channel, "recipient": recipient, "since": time.time()}
                connection.execute(insert(opt_outs).values(**row))

    async def is_opted_out(self, channel: str, recipient: str) -> bool:
        return await asyncio.to_thread(self._is_opted_out, channel, recipient)

    def _is_opted_out(self, channel: str, recipient: str) -> bool:
        key = (opt_outs.c.channel == channel) & (opt_outs.c.recipient == recipient)
        with self._engine.connect() as connection:
            return connection.execute(select(opt_outs.c.since).where(key)).first() is not None


@lru_cache(maxsize=1)
def delivery_store() -> DeliveryStore:
    """The store at `CHANNEL_STATE_URL` (SQLAlchemy URL), default a SQLite file in `state/`."""
    return DeliveryStore.from_url(os.environ.get("CHANNEL_STATE_URL", DEFAULT_URL))
