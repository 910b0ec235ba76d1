"""The project's lock stores (stores/lock_store.py) without a Rasa server: one message of a
conversation at a time, in the order their tickets were taken, each waiting message woken once
when its turn comes (no polling), a hung or crashed holder passed over after its lifetime; and
the control: Rasa's stock RedisLockStore hands two servers the same ticket."""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, Optional, Sequence

import pytest
import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LockError, LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered

from evaluation.local_stores import LocalPostgres, LocalRedis, running_redis
from evaluation.scale_out import stored_turns
from stores.lock_store import TICKET_QUEUE_SCRIPT, AtomicRedisLockStore, InProcessLockStore

MESSAGES = 24


def redis_stores(server: LocalRedis, count: int) -> List[AtomicRedisLockStore]:
    """`count` stores on one Redis, as `count` Rasa servers have, with a key prefix of their own."""
    prefix = f"t{secrets.token_hex(4)}"
    return [AtomicRedisLockStore(host=server.host, port=server.port, key_prefix=prefix) for _ in range(count)]


class Recorder:
    """What happened inside the lock: who entered, with which ticket, and how many were inside."""

    def __init__(self) -> None:
        self.entered: List[int] = []
        self.tickets: List[int] = []
        self.inside = 0
        self.most_inside = 0

    async def message(self, store: LockStore, number: int, conversation_id: str = "conversation") -> None:
        async with store.lock(conversation_id) as lock:
            self.entered.append(number)
            self.tickets.append(lock.tickets[0].number)
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
            for _ in range(3):  # the work of a message, yielding to the others meanwhile
                await asyncio.sleep(0.002)
            self.inside -= 1


async def send_all(stores: Sequence[LockStore], recorder: Recorder, count: int = MESSAGES) -> None:
    await asyncio.gather(*(recorder.message(stores[i % len(stores)], i) for i in range(count)))


def test_in_process_messages_go_one_at_a_time_in_arrival_order_each_woken_once() -> None:
    store, recorder = InProcessLockStore(), Recorder()
    asyncio.run(send_all([store], recorder))
    assert recorder.entered == list(range(MESSAGES))
    assert recorder.tickets == list(range(1, MESSAGES + 1))
    assert recorder.most_inside == 1
    assert store.wake_ups == MESSAGES - 1  # each waiting message woken once: when its turn came
    assert store.get_lock("conversation") is None  # nothing left behind


def test_in_process_conversations_do_not_wait_for_each_other() -> None:
    store, first, second = InProcessLockStore(), Recorder(), Recorder()

    async def both() -> None:
        await asyncio.gather(first.message(store, 1, "a"), second.message(store, 1, "b"))

    asyncio.run(both())
    assert store.wake_ups == 0 and first.tickets == second.tickets == [1]


def test_redis_two_servers_serve_one_conversation_one_at_a_time_in_ticket_order(
    redis_server: LocalRedis,
) -> None:
    stores, recorder = redis_stores(redis_server, 2), Recorder()
    asyncio.run(send_all(stores, recorder))
    assert sorted(recorder.tickets) == list(range(1, MESSAGES + 1))  # every ticket once, none shared
    assert recorder.tickets == sorted(recorder.tickets)  # served in the order the tickets were taken
    assert recorder.most_inside == 1
    # No polling: each waiting message was woken once, by its grant, and checked once.
    assert sum(s.wake_ups for s in stores) == MESSAGES - 1
    assert sum(s.checks for s in stores) == MESSAGES - 1
    assert stores[0].get_lock("conversation") is None
    assert stores[0].red.keys(f"{stores[0].key_prefix}*") == []  # the queue is gone when empty


def crashed_server_ticket(store: AtomicRedisLockStore, conversation_id: str, lifetime_ms: int) -> None:
    """A ticket taken (and so the lock held) by a server that then died: never released."""
    script = redis.Redis(host=store._options["host"], port=store._options["port"], db=1).register_script(
        TICKET_QUEUE_SCRIPT
    )
    state, _, _ = script(keys=store.keys(conversation_id), args=["issue", "dead", lifetime_ms, store.channel])
    assert state == 1


def test_redis_a_crashed_holder_is_passed_over_after_its_lifetime(redis_server: LocalRedis) -> None:
    (store,) = redis_stores(redis_server, 1)
    crashed_server_ticket(store, "conversation", lifetime_ms=300)
    seen: List[Optional[TicketLock]] = []

    async def next_message() -> None:
        async with store.lock("conversation"):
            seen.append(store.get_lock("conversation"))

    asyncio.run(asyncio.wait_for(next_message(), timeout=30))
    assert seen[0] is not None and [t.number for t in seen[0].tickets] == [2]  # the dead ticket 1 is gone
    assert store.get_lock("conversation") is None


def test_redis_a_cancelled_waiter_leaves_the_queue(redis_server: LocalRedis) -> None:
    """A request dropped while it waits (client gone) does not hold up the ones after it."""
    (store,) = redis_stores(redis_server, 1)
    order: List[str] = []

    async def scenario() -> None:
        release = asyncio.Event()

        async def holder() -> None:
            async with store.lock("conversation"):
                order.append("holder")
                await release.wait()

        async def waiter(name: str) -> None:
            async with store.lock("conversation"):
                order.append(name)

        first = asyncio.create_task(holder())
        while not order:
            await asyncio.sleep(0.001)
        dropped = asyncio.create_task(waiter("dropped"))
        last = asyncio.create_task(waiter("last"))
        while len(store.get_lock("conversation").tickets) < 3:
            await asyncio.sleep(0.001)
        dropped.cancel()
        while len(store.get_lock("conversation").tickets) > 2:
            await asyncio.sleep(0.001)
        release.set()
        await asyncio.wait_for(asyncio.gather(first, last), timeout=30)

    asyncio.run(scenario())
    assert order == ["holder", "last"]
    assert store.wake_ups == 1  # only "last" was woken, once
    assert store.get_lock("conversation") is None


def test_redis_a_ticket_that_vanished_while_waiting_fails_the_message(redis_server: LocalRedis) -> None:
    """Redis restarted empty (here: the queue deleted) while a message waited: LockError, which
    the channel answers with an apology, rather than processing it unserialised."""
    (store,) = redis_stores(redis_server, 1)
    crashed_server_ticket(store, "conversation", lifetime_ms=300)

    async def waiting_message() -> None:
        async with store.lock("conversation"):
            pass

    async def scenario() -> None:
        task = asyncio.create_task(waiting_message())
        while store.get_lock("conversation") is None or len(store.get_lock("conversation").tickets) < 2:
            await asyncio.sleep(0.001)
        store.delete_lock("conversation")
        await asyncio.wait_for(task, timeout=30)

    with pytest.raises(LockError, match="vanished"):
        asyncio.run(scenario())


def test_redis_unreachable_fails_the_message_with_a_lock_error() -> None:
    store = AtomicRedisLockStore(host="127.0.0.1", port=1, socket_timeout=1)

    async def message() -> None:
        async with store.lock("conversation"):
            pass

    with pytest.raises(LockError):
        asyncio.run(message())


def test_redis_down_fails_messages_and_back_serves_them_again() -> None:
    """Redis stops (messages fail with LockError, which the channels answer with the clinic's
    number) and comes back, empty: the same store serves the conversation again."""
    with running_redis() as server:
        # A socket timeout far longer than the guard below: a message during the outage must fail
        # at once (its patient gets the clinic's number), not after waiting for the subscription.
        store = AtomicRedisLockStore(host=server.host, port=server.port, socket_timeout=600)
        recorder = Recorder()

        async def scenario() -> None:
            await recorder.message(store, 1)
            server.stop()
            for attempt in (2, 2):  # before and after the grant listener has noticed the loss
                with pytest.raises(LockError):
                    await asyncio.wait_for(recorder.message(store, attempt), timeout=60)
                await asyncio.sleep(0.5)
            server.start()
            await asyncio.gather(recorder.message(store, 3), recorder.message(store, 4))

        asyncio.run(scenario())
    assert recorder.entered[0] == 1 and sorted(recorder.entered[1:]) == [3, 4]
    assert recorder.tickets[1:] == sorted(recorder.tickets[1:])  # in the order of their tickets
    assert recorder.most_inside == 1


def test_in_process_a_hung_holder_is_passed_over_after_its_lifetime(caplog: pytest.LogCaptureFixture) -> None:
    store = InProcessLockStore()
    events: List[str] = []

    async def scenario() -> None:
        never = asyncio.Event()

        async def hung() -> None:
            async with store.lock("conversation", lock_lifetime=0.2):
                events.append("hung holder in")
                await never.wait()

        async def next_message() -> None:
            async with store.lock("conversation"):
                events.append("next in")

        stuck = asyncio.create_task(hung())
        await asyncio.sleep(0)
        await asyncio.wait_for(next_message(), timeout=30)
        assert not stuck.done()
        stuck.cancel()

    with caplog.at_level(logging.WARNING, logger="stores.lock_store"):
        asyncio.run(scenario())
    assert events == ["hung holder in", "next in"]
    assert "longer than its lifetime" in caplog.text
    assert store.get_lock("conversation") is None


def test_in_process_delete_lock_lets_the_waiting_go_and_spares_the_next_queue() -> None:
    store, order = InProcessLockStore(), []

    async def scenario() -> None:
        release, release_newer = asyncio.Event(), asyncio.Event()

        async def message(name: str, hold: Optional[asyncio.Event] = None) -> None:
            async with store.lock("conversation"):
                order.append(name)
                if hold:
                    await hold.wait()

        holder = asyncio.create_task(message("holder", hold=release))
        waiting = asyncio.create_task(message("waiting"))
        await asyncio.sleep(0)
        store.delete_lock("conversation")  # e.g. the conversation deleted
        await waiting
        newer = asyncio.create_task(message("newer", hold=release_newer))
        await asyncio.sleep(0)
        release.set()
        await holder  # leaving the deleted queue does not touch the newer one
        assert store.get_lock("conversation") is not None
        release_newer.set()
        await newer

    asyncio.run(scenario())
    assert order == ["holder", "waiting", "newer"]
    assert store.get_lock("conversation") is None


def test_in_process_refuses_several_sanic_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANIC_WORKERS", "2")
    with pytest.raises(LockError, match="AtomicRedisLockStore"):
        InProcessLockStore()


@pytest.mark.parametrize("store_class", [InProcessLockStore, AtomicRedisLockStore])
def test_the_read_then_write_ticket_interface_is_refused(store_class: type) -> None:
    store = store_class()
    for call in (
        lambda: store.issue_ticket("conversation"),
        lambda: store.save_lock(TicketLock("conversation")),
        lambda: store.finish_serving("conversation", 0),
        lambda: store.cleanup("conversation", 0),
    ):
        with pytest.raises(LockError, match="lost update"):
            call()


def test_control_rasas_redis_lock_store_gives_two_servers_the_same_ticket(redis_server: LocalRedis) -> None:
    """Rasa 3.6's RedisLockStore issues a ticket by reading the lock, adding the ticket and writing
    the lock back (RasaHQ/rasa#9213). Two servers whose reads both come before either write (here
    made certain by a barrier between the read and the write) get the same ticket, and both are
    let in at once: their messages are processed concurrently and one's events are lost."""
    barrier = threading.Barrier(2)
    prefix = f"t{secrets.token_hex(4)}"

    class ReadsThenWaits(RedisLockStore):
        def get_lock(self, conversation_id: str) -> Optional[TicketLock]:
            lock = super().get_lock(conversation_id)
            barrier.wait(timeout=30)
            return lock

    servers = [
        ReadsThenWaits(host=redis_server.host, port=redis_server.port, key_prefix=prefix) for _ in range(2)
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        tickets = list(pool.map(lambda server: server.issue_ticket("conversation"), servers))
    assert tickets[0] == tickets[1]
    lock = RedisLockStore(host=redis_server.host, port=redis_server.port, key_prefix=prefix).get_lock(
        "conversation"
    )
    assert lock is not None
    assert not lock.is_locked(tickets[0]) and not lock.is_locked(tickets[1])  # both may go ahead

    # The project's store under the same pressure: two servers, all messages at once.
    stores, recorder = redis_stores(redis_server, 2), Recorder()
    asyncio.run(send_all(stores, recorder))
    assert len(set(recorder.tickets)) == MESSAGES and recorder.most_inside == 1


def unless_queued(event: threading.Event, lock_store: LockStore, sender: str) -> None:
    """Waits (up to 30 s) for `event`, unless the other message is queued for the lock behind
    this one (it cannot come in before this one leaves)."""
    deadline = time.monotonic() + 30
    while not event.is_set() and time.monotonic() < deadline:
        lock = lock_store.get_lock(sender)
        if lock is not None and len(lock.tickets) >= 2:
            return
        time.sleep(0.005)


def two_servers_answer_at_once(
    make_lock_store: Callable[[int], LockStore], postgres: LocalPostgres
) -> List[str]:
    """Two servers (threads, each with its own event loop, lock store and Rasa SQL tracker store
    on PostgreSQL) each handle one message of the same conversation at the same moment, as Rasa
    does: under the lock, read the tracker, add the message, save. Inside the lock each waits for
    the other to be inside too, and server 1 for server 0 to have saved (unless the other is queued
    behind it), so that if the lock lets both in, both have read the tracker before either saves,
    and they save one after the other. Returns the user messages stored."""
    sender = secrets.token_hex(16)

    def tracker_store() -> SQLTrackerStore:
        return SQLTrackerStore(
            Domain.empty(), dialect="postgresql", host=postgres.host, port=postgres.port,
            db=postgres.database, username=postgres.user,
        )  # fmt: skip

    asyncio.run(tracker_store().create_tracker(sender))  # the conversation exists already
    inside, saved = [threading.Event(), threading.Event()], [threading.Event(), threading.Event()]

    def server(number: int) -> None:
        async def handle() -> None:
            lock_store, store = make_lock_store(number), tracker_store()
            async with lock_store.lock(sender):
                tracker = await store.retrieve(sender)
                assert tracker is not None
                inside[number].set()
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, unless_queued, inside[1 - number], lock_store, sender)
                if number == 1:  # saves one after the other: no race between the saves themselves
                    await loop.run_in_executor(None, unless_queued, saved[0], lock_store, sender)
                tracker.update(UserUttered(f"message from server {number}"))
                await store.save(tracker)
                saved[number].set()

        asyncio.run(handle())

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(server, [0, 1]))
    return [turn.text for turn in stored_turns(postgres.url, sender)]


def test_control_with_rasas_redis_lock_store_two_servers_lose_a_message(
    redis_server: LocalRedis, postgres: LocalPostgres
) -> None:
    """The loss end to end, made certain: both servers read the lock before either writes it."""
    barrier, prefix = threading.Barrier(2), f"t{secrets.token_hex(4)}"

    class ReadsThenWaitsOnce(RedisLockStore):
        read = False

        def get_lock(self, conversation_id: str) -> Optional[TicketLock]:
            lock = super().get_lock(conversation_id)
            if not self.read:
                self.read = True
                barrier.wait(timeout=30)
            return lock

    stored = two_servers_answer_at_once(
        lambda _: ReadsThenWaitsOnce(host=redis_server.host, port=redis_server.port, key_prefix=prefix),
        postgres,
    )
    assert len(stored) == 1  # one of the two messages is lost


def test_with_the_atomic_lock_store_two_servers_keep_both_messages(
    redis_server: LocalRedis, postgres: LocalPostgres
) -> None:
    prefix = f"t{secrets.token_hex(4)}"
    stored = two_servers_answer_at_once(
        lambda _: AtomicRedisLockStore(host=redis_server.host, port=redis_server.port, key_prefix=prefix),
        postgres,
    )
    assert sorted(stored) == ["message from server 0", "message from server 1"]
