"""Lock stores that serve the messages of one conversation one at a time, in arrival order,
and hand the lock straight to the next message when one is done.

Rasa processes a message inside `lock_store.lock(conversation_id)`. Its stock stores get this
wrong in two ways (rasa/core/lock_store.py, Rasa 3.6):

- tickets are issued by reading the conversation's lock, adding a ticket and writing it back: two
  servers that read before either writes get the same ticket and process their messages at once,
  and one message's events overwrite the other's in the tracker store (RasaHQ/rasa#9213; measured
  here with two servers: 5-21 of 200 user messages lost);
- a waiting message re-reads the lock every second, so the fifth of five quick messages waits
  about 4 s even when each takes 50 ms.

Both stores here keep one queue per conversation: a message takes a ticket (its place in the
queue), the first in the queue holds the lock, and releasing it grants the lock to the next one,
whose waiter is woken at once. A holder gets `lock_lifetime` seconds (Rasa's default 60,
`TICKET_LOCK_LIFETIME`) from the moment it is granted the lock: a holder that crashed or hangs
longer is dropped from the queue and the next one proceeds, so nothing waits forever.

- `InProcessLockStore`: the queue in the Rasa server's memory (one server, one Sanic worker:
  scripts/run.sh). endpoints.yml: `lock_store: {type: stores.lock_store.InProcessLockStore}`.
- `AtomicRedisLockStore`: the queue in Redis, shared by every server; each step (take a ticket,
  check, release) is one Lua script, which Redis runs atomically, and the lease is measured on
  Redis's clock. Granting the lock publishes the new holder's ticket on a pub/sub channel, which
  each server listens to on one connection and hands to its waiting message. endpoints.yml (the
  same keys as Rasa's `redis` lock store; the password from the environment)::

      lock_store:
        type: stores.lock_store.AtomicRedisLockStore
        url: redis.internal        # host
        port: 6379
        db: 1
        password: ${REDIS_PASSWORD}
        # optional: username, use_ssl, ssl_certfile, ssl_keyfile, ssl_ca_certs, key_prefix,
        # socket_timeout (seconds, default 10)

Errors: `lock()` raises Rasa's `LockError` when the lock cannot be had: Redis unreachable or
failing (the cause is chained), or the message's ticket vanished while it waited (Redis restarted
empty, or the ticket outlived its keys). Whether Redis answers at start-up is checked by
stores/tracker_store.py (the server does not start without it) and by the readiness endpoint.

Only `lock()` hands out tickets. The rest of Rasa's `LockStore` interface (`issue_ticket`,
`save_lock`, `finish_serving`, `cleanup`) writes a whole lock back after reading it, which is
the lost-update pattern above, so these raise `LockError`; `get_lock()` (a snapshot of the
queue) and `delete_lock()` work. Nothing in Rasa 3.6 calls them outside its own stores.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections import deque
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Deque, Dict, List, Optional, Tuple

import redis
import redis.asyncio as aioredis
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import (
    DEFAULT_REDIS_LOCK_STORE_KEY_PREFIX,
    DEFAULT_SOCKET_TIMEOUT_IN_SECONDS,
    LOCK_LIFETIME,
    LockError,
    LockStore,
)
from rasa.utils.endpoints import EndpointConfig
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff

logger = logging.getLogger(__name__)

UNSUPPORTED = (
    "{store} hands out tickets only inside lock(): reading a lock and writing it back is the lost "
    "update that makes Rasa's RedisLockStore lose messages (RasaHQ/rasa#9213)."
)


class _TicketOnlyInLock(LockStore):
    """Refuses the read-modify-write part of Rasa's `LockStore` interface (module docstring)."""

    def _refuse(self) -> LockError:
        return LockError(UNSUPPORTED.format(store=type(self).__name__))

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        raise self._refuse()

    def save_lock(self, lock: TicketLock) -> None:
        raise self._refuse()

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        raise self._refuse()

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        raise self._refuse()


# ---------------------------------------------------------------------------------------------
# One Rasa server: the queue in memory
# ---------------------------------------------------------------------------------------------


@dataclass
class _Waiter:
    """One message's place in its conversation's queue."""

    number: int  # ticket number: 1, 2, ... in arrival order, per conversation while it has a queue
    lifetime: float  # seconds it may hold the lock
    granted: asyncio.Future[None]  # done when it holds the lock
    lease_ends: float = 0.0  # loop time when its hold lapses (set when granted)


@dataclass
class _Queue:
    waiters: Deque[_Waiter] = field(default_factory=deque)
    issued: int = 0


class InProcessLockStore(_TicketOnlyInLock):
    """The lock queue of each conversation in this process's memory (one Rasa server, one Sanic
    worker). A released lock goes straight to the next waiting message of the conversation."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None) -> None:
        """`endpoint_config` (from endpoints.yml) takes no options.

        Raises `LockError` if Rasa is told to run several Sanic workers (`SANIC_WORKERS`): they
        are separate processes, which an in-process lock cannot serialise."""
        workers = os.environ.get("SANIC_WORKERS", "1").strip() or "1"
        if workers != "1":
            raise LockError(
                f"InProcessLockStore serves one process, but SANIC_WORKERS={workers}: use "
                "stores.lock_store.AtomicRedisLockStore for several workers or servers."
            )
        self._queues: Dict[str, _Queue] = {}
        self.wake_ups = 0  # how many waiting messages were woken (granted or timed out): no polling
        super().__init__()

    def _grant(self, waiter: _Waiter) -> None:
        waiter.lease_ends = asyncio.get_running_loop().time() + waiter.lifetime
        if not waiter.granted.done():
            waiter.granted.set_result(None)

    def _leave(self, conversation_id: str, queue: _Queue, waiter: _Waiter) -> None:
        was_holder = bool(queue.waiters) and queue.waiters[0] is waiter
        if waiter in queue.waiters:
            queue.waiters.remove(waiter)
        if not queue.waiters:
            if self._queues.get(conversation_id) is queue:  # not a newer one after delete_lock
                del self._queues[conversation_id]
        elif was_holder:
            self._grant(queue.waiters[0])

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncIterator[TicketLock]:
        """Holds the conversation's lock while the body runs; waits (woken, not polling) for the
        messages that arrived before. `wait_time_in_seconds` is Rasa's polling step: unused."""
        loop = asyncio.get_running_loop()
        queue = self._queues.setdefault(conversation_id, _Queue())
        queue.issued += 1
        waiter = _Waiter(queue.issued, lock_lifetime, loop.create_future())
        queue.waiters.append(waiter)
        try:
            if queue.waiters[0] is waiter:
                self._grant(waiter)
            while not waiter.granted.done():
                holder = queue.waiters[0]
                remaining = holder.lease_ends - loop.time()
                if remaining <= 0:
                    logger.warning(
                        "A message held its conversation's lock longer than its lifetime "
                        f"({holder.lifetime:.0f} s); the next one goes ahead."
                    )
                    self._leave(conversation_id, queue, holder)
                    continue
                # Woken when granted; the timeout only ends a holder's lapsed lease.
                await asyncio.wait([waiter.granted], timeout=remaining)
                self.wake_ups += 1
            yield TicketLock(conversation_id, deque([Ticket(waiter.number, time.time() + waiter.lifetime)]))
        finally:
            self._leave(conversation_id, queue, waiter)

    def get_lock(self, conversation_id: str) -> Optional[TicketLock]:
        """A snapshot of the conversation's queue (holder first), or None if it has none."""
        queue = self._queues.get(conversation_id)
        if queue is None:
            return None
        now = time.time()
        tickets = [Ticket(w.number, now + w.lifetime) for w in queue.waiters]
        return TicketLock(conversation_id, deque(tickets))

    def delete_lock(self, conversation_id: str) -> None:
        """Drops the conversation's queue; its waiting messages go ahead at once."""
        queue = self._queues.pop(conversation_id, None)
        for waiter in queue.waiters if queue else ():
            if not waiter.granted.done():
                waiter.granted.set_result(None)
        self._log_deletion(conversation_id, queue is not None)


# ---------------------------------------------------------------------------------------------
# Several Rasa servers: the queue in Redis
# ---------------------------------------------------------------------------------------------

# KEYS: queue (sorted set: ticket token -> number), counter (last number), holder (hash: token,
# deadline in ms on Redis's clock), lifetimes (hash: token -> lease in ms).
# ARGV: operation (issue | check | release), token, lifetime in ms, channel to publish grants on.
# Returns {state, remaining_ms, number}: state 1 = the token holds the lock, 0 = it waits, -1 = it
# is not in the queue (its ticket is gone); for `release`, 1 = it was still the holder, 0 = its
# lease had lapsed. remaining_ms: what is left of the holder's lease. number: the token's ticket.
TICKET_QUEUE_SCRIPT = """
local queue, counter, holder, lifetimes = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local operation, token, lifetime, channel = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local released = 0
if operation == 'issue' then
  local number = redis.call('INCR', counter)
  redis.call('ZADD', queue, number, token)
  redis.call('HSET', lifetimes, token, lifetime)
elseif operation == 'release' then
  if redis.call('HGET', holder, 'token') == token then
    redis.call('DEL', holder)
    released = 1
  end
  redis.call('ZREM', queue, token)
  redis.call('HDEL', lifetimes, token)
end
-- The first in the queue holds the lock; a holder whose lease lapsed is dropped.
local head, remaining = nil, 0
while true do
  head = redis.call('ZRANGE', queue, 0, 0)[1]
  if not head then break end
  local current = redis.call('HMGET', holder, 'token', 'deadline')
  if current[1] ~= head then
    local lease = tonumber(redis.call('HGET', lifetimes, head)) or lifetime
    redis.call('HSET', holder, 'token', head, 'deadline', now + lease)
    if head ~= token then redis.call('PUBLISH', channel, head) end
    remaining = lease
    break
  end
  remaining = tonumber(current[2]) - now
  if remaining > 0 then break end
  redis.call('ZREM', queue, head)
  redis.call('HDEL', lifetimes, head)
  redis.call('DEL', holder)
end
if not head then
  redis.call('DEL', queue, counter, holder, lifetimes)
else
  -- Keys vanish if every server holding or waiting is gone: each waiter gets at most one lease.
  local ttl = lifetime * (redis.call('ZCARD', queue) + 1)
  for _, key in ipairs({queue, counter, holder, lifetimes}) do redis.call('PEXPIRE', key, ttl) end
end
local number = redis.call('ZSCORE', queue, token)
local state
if operation == 'release' then state = released
elseif not number then state = -1
elseif head == token then state = 1
else state = 0 end
return {state, remaining, tonumber(number) or 0}
"""

LISTEN_TIMEOUT_S = 30.0  # the grant listener's read; on timeout it pings Redis (dead connections)
RECONNECT_WAIT_S = 1.0  # between attempts to listen again after Redis went away


@dataclass
class _Listener:
    """This process's one subscription to the grant channel, on one event loop."""

    loop: asyncio.AbstractEventLoop
    client: aioredis.Redis
    script: Any  # redis.commands.core.AsyncScript
    subscribed: asyncio.Event
    task: Optional[asyncio.Task[None]] = None
    # Set when the subscription was lost and not yet back: a message then fails at once (its
    # patient gets the clinic's number) instead of waiting socket_timeout for the subscription.
    unreachable: asyncio.Event = field(default_factory=asyncio.Event)


class AtomicRedisLockStore(_TicketOnlyInLock):
    """The lock queue of each conversation in Redis, shared by every Rasa server (module
    docstring). Counters for tests and measurements: `checks` (Lua calls made by waiting messages
    after their first), `wake_ups` (waiting messages woken)."""

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        *,
        host: str = "localhost",
        port: int = 6379,
        db: int = 1,
        username: Optional[str] = None,
        password: Optional[str] = None,
        use_ssl: bool = False,
        ssl_certfile: Optional[str] = None,
        ssl_keyfile: Optional[str] = None,
        ssl_ca_certs: Optional[str] = None,
        key_prefix: Optional[str] = None,
        socket_timeout: float = DEFAULT_SOCKET_TIMEOUT_IN_SECONDS,
    ) -> None:
        """Options from `endpoint_config` (endpoints.yml: `url` is the host) or the keywords.
        Connects on first use; `red` is a synchronous client of the same Redis (Rasa's name: the
        start-up check and the readiness endpoint PING it, stores/checks.py).

        Raises `ValueError` for an unknown option or a key prefix that is not alphanumeric."""
        options: Dict[str, Any] = dict(
            host=host,
            port=port,
            db=db,
            username=username,
            password=password,
            ssl=use_ssl,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            ssl_ca_certs=ssl_ca_certs,
            socket_timeout=socket_timeout,
        )
        if endpoint_config is not None:
            settings = dict(endpoint_config.kwargs)
            options["host"] = endpoint_config.url or options["host"]
            if "use_ssl" in settings:
                settings["ssl"] = settings.pop("use_ssl")
            key_prefix = settings.pop("key_prefix", key_prefix)
            unknown = set(settings) - set(options)
            if unknown:
                raise ValueError(f"Unknown lock store options: {sorted(unknown)}")
            options.update(settings)
        options["port"], options["db"] = int(options["port"]), int(options["db"])
        options["socket_timeout"] = float(options["socket_timeout"])
        self._options = options
        prefix = DEFAULT_REDIS_LOCK_STORE_KEY_PREFIX
        if key_prefix:
            if not str(key_prefix).isalnum():
                raise ValueError(f"key_prefix must be alphanumeric: {key_prefix!r}")
            prefix = f"{key_prefix}:{prefix}"
        self.key_prefix = prefix
        self.channel = f"{prefix}granted"
        self.red = redis.Redis(**options)
        self._listener: Optional[_Listener] = None
        self._waiting: Dict[str, asyncio.Future[None]] = {}  # ticket token -> woken when granted
        self.checks = 0
        self.wake_ups = 0
        super().__init__()

    def keys(self, conversation_id: str) -> List[str]:
        """The conversation's keys: queue, counter, holder, lifetimes. The id is a hash tag, so
        they live on one node of a Redis Cluster."""
        base = f"{self.key_prefix}{{{conversation_id}}}"
        return [f"{base}:queue", f"{base}:counter", f"{base}:holder", f"{base}:lifetimes"]

    async def _ensure_listener(self) -> _Listener:
        loop = asyncio.get_running_loop()
        listener = self._listener
        if listener is None or listener.loop is not loop or listener.task is None or listener.task.done():
            # A connection Redis dropped (a restart) stays in the pool: retried once on a new one.
            retry = {"retry": AsyncRetry(NoBackoff(), 1), "retry_on_error": [redis.ConnectionError]}
            client = aioredis.Redis(**self._options, **retry)
            listener = _Listener(loop, client, client.register_script(TICKET_QUEUE_SCRIPT), asyncio.Event())
            listener.task = loop.create_task(self._listen(listener))
            self._listener = listener
        if not listener.subscribed.is_set():
            if listener.unreachable.is_set():
                try:
                    await listener.client.ping()
                except (redis.RedisError, OSError) as error:
                    reason = type(error).__name__
                    raise LockError(f"The Redis lock store cannot be reached ({reason}).") from error
            try:
                await asyncio.wait_for(listener.subscribed.wait(), timeout=self._options["socket_timeout"])
            except asyncio.TimeoutError as error:
                raise LockError("The Redis lock store cannot be reached (no subscription).") from error
        return listener

    async def _listen(self, listener: _Listener) -> None:
        """Hands each grant published on the channel to this process's waiting message, if any.
        After a lost connection it subscribes again and wakes every waiting message to check its
        place (a grant may have been published meanwhile). Tries again every RECONNECT_WAIT_S;
        logs the loss once (WARNING) and the return (INFO)."""
        lost = False
        while True:
            pubsub = listener.client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while True:
                    message = await pubsub.get_message(timeout=LISTEN_TIMEOUT_S)
                    if message is None:
                        await pubsub.ping()
                    elif message["type"] == "subscribe":
                        listener.unreachable.clear()
                        listener.subscribed.set()
                        self._wake_all()
                        if lost:
                            logger.info("Redis lock store: grant channel back.")
                            lost = False
                    elif message["type"] == "message":
                        self._wake(message["data"].decode())
            except (redis.RedisError, OSError) as error:
                listener.subscribed.clear()
                listener.unreachable.set()
                self._wake_all()
                if not lost:
                    logger.warning(
                        f"Redis lock store: grant channel lost ({type(error).__name__}); retrying."
                    )
                    lost = True
                await asyncio.sleep(RECONNECT_WAIT_S)
            finally:
                await pubsub.reset()

    def _wake(self, token: str) -> None:
        future = self._waiting.get(token)
        if future is not None and not future.done():
            future.set_result(None)

    def _wake_all(self) -> None:
        for token in list(self._waiting):
            self._wake(token)

    async def _run(
        self, listener: _Listener, operation: str, conversation_id: str, token: str, lifetime_ms: int
    ) -> Tuple[int, int, int]:
        try:
            state, remaining, number = await listener.script(
                keys=self.keys(conversation_id), args=[operation, token, lifetime_ms, self.channel]
            )
        except (redis.RedisError, OSError) as error:
            raise LockError(f"The Redis lock store failed ({type(error).__name__}).") from error
        return int(state), int(remaining), int(number)

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncIterator[TicketLock]:
        """Holds the conversation's lock (across all servers) while the body runs; waits, woken by
        the grant, for the messages that took a ticket before. `wait_time_in_seconds` is Rasa's
        polling step: unused. Raises `LockError` (module docstring)."""
        listener = await self._ensure_listener()
        token = uuid.uuid4().hex
        lifetime_ms = max(1, int(lock_lifetime * 1000))
        self._waiting[token] = listener.loop.create_future()
        try:
            state, remaining, number = await self._run(listener, "issue", conversation_id, token, lifetime_ms)
            while state == 0:
                # Woken by the grant; the timeout only ends a holder's lapsed lease.
                await asyncio.wait([self._waiting[token]], timeout=remaining / 1000 + 0.01)
                self.wake_ups += 1
                self._waiting[token] = listener.loop.create_future()
                self.checks += 1
                state, remaining, number = await self._run(
                    listener, "check", conversation_id, token, lifetime_ms
                )
            if state < 0:
                raise LockError(f"The lock ticket of a message vanished while it waited ({self.key_prefix}).")
            yield TicketLock(conversation_id, deque([Ticket(number, time.time() + remaining / 1000)]))
        finally:
            self._waiting.pop(token, None)
            # Also after a failed or cancelled issue, which Redis may have run: a ticket left in
            # the queue would hold up the conversation for a lifetime. Shielded from cancellation.
            await asyncio.shield(self._release(listener, conversation_id, token, lifetime_ms))

    async def _release(self, listener: _Listener, conversation_id: str, token: str, lifetime_ms: int) -> None:
        try:
            was_holder, _, _ = await self._run(listener, "release", conversation_id, token, lifetime_ms)
        except LockError:
            logger.warning("Redis lock store: a release failed; the lock lapses after its lifetime.")
            return
        if not was_holder:
            logger.warning(
                "A message held its conversation's lock longer than its lifetime; a later message "
                "may have gone ahead of it."
            )

    def get_lock(self, conversation_id: str) -> Optional[TicketLock]:
        """A snapshot of the conversation's queue (holder first), or None if it has none."""
        queue_key, _, _, lifetimes_key = self.keys(conversation_id)
        entries = self.red.zrange(queue_key, 0, -1, withscores=True)
        if not entries:
            return None
        lifetimes = self.red.hgetall(lifetimes_key)
        now = time.time()
        tickets = [
            Ticket(int(number), now + int(lifetimes.get(token, 0)) / 1000) for token, number in entries
        ]
        return TicketLock(conversation_id, deque(tickets))

    def delete_lock(self, conversation_id: str) -> None:
        """Deletes the conversation's queue; waiting messages then fail with `LockError`."""
        deleted = self.red.delete(*self.keys(conversation_id))
        self._log_deletion(conversation_id, bool(deleted))
