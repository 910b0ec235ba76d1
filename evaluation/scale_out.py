"""Does a conversation survive several Rasa servers? Messages sent in pairs to two servers at once,
then the PostgreSQL tracker store read back; and how long quick messages of one conversation wait
for its lock.

Used by tests/stores/ (the checks) and run as a measurement (the numbers in the README):

    .venv/bin/python -m evaluation.scale_out            # ~5 minutes; prints JSON

It measures (1) with the project's AtomicRedisLockStore and with Rasa's stock RedisLockStore: two
Rasa servers on one PostgreSQL tracker store, `conversations` conversations each sending
`pair_count` pairs of messages, the two of a pair posted at the same moment, one to each server;
what was stored; (2) on one server (scripts/run.sh's profile), five messages of one conversation
posted at once, with Rasa's in-memory lock store and with the project's InProcessLockStore: the
seconds each waited for its reply.
"""

from __future__ import annotations

import argparse
import json
import secrets
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ContextManager, Dict, List, Mapping, Optional, Sequence

import requests
import sqlalchemy

from channels.text_output import render_text
from evaluation.local_stores import LocalPostgres, LocalRedis, running_postgres, running_redis
from evaluation.servers import (
    ATOMIC_REDIS_LOCK_STORE,
    STOCK_REDIS_LOCK_STORE,
    Assistant,
    Cluster,
    postgres_tracker_store,
    redis_lock_store,
    running_assistant,
    running_cluster,
)
from scripts.train import MODEL_PATH

# Ten different questions a patient asks; each conversation sends them in this order, in pairs.
QUESTIONS = (
    "what is kyphoplasty?",
    "how is it done?",
    "how long is the recovery?",
    "is it safe?",
    "what are the risks?",
    "who is a candidate?",
    "does it hurt?",
    "what are the benefits?",
    "how long does the procedure take?",
    "what is a compression fracture?",
)
IN_PROCESS_LOCK_STORE = {"type": "stores.lock_store.InProcessLockStore"}
RASA_IN_MEMORY_LOCK_STORE = {"type": "in_memory"}  # Rasa's default: re-checks every second


@dataclass
class Sent:
    """One user message as sent: its text, the server it went to, and the reply texts it got
    (empty with `error` set when the request failed)."""

    text: str
    server: int
    pair: int
    replies: List[str] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0  # from posting to the reply


@dataclass
class Turn:
    """One user message in the tracker store and the bot messages stored after it, rendered as
    the REST channel renders them (texts)."""

    text: str
    replies: List[str] = field(default_factory=list)


@dataclass
class ConversationCheck:
    """What the tracker store kept of one conversation, against what was sent."""

    sent: int
    stored: int  # user messages stored
    lost: List[str]  # sent, not stored
    duplicated: List[str]  # stored more than once
    out_of_order: bool  # a message stored before one of an earlier pair
    replies_differ: List[str]  # user messages whose stored bot messages are not the reply it got
    failed: int  # requests that got no reply (HTTP error)

    @property
    def intact(self) -> bool:
        return not (self.lost or self.duplicated or self.out_of_order or self.replies_differ or self.failed)


@dataclass
class PairsReport:
    """The pairs scenario over all conversations."""

    lock_store: str
    conversations: int
    user_messages_sent: int
    user_messages_stored: int
    user_messages_lost: int
    user_messages_duplicated: int
    conversations_out_of_order: int
    turns_with_replies_differing: int
    requests_failed: int
    seconds: float
    # the later reply of each pair in one conversation on the otherwise idle servers (the message
    # that waited for the lock), median; the loaded run's replies queue for the 2 cores instead
    slower_of_pair_alone_s_median: float

    @property
    def intact(self) -> bool:
        return (
            self.user_messages_lost
            == self.user_messages_duplicated
            == self.conversations_out_of_order
            == self.turns_with_replies_differing
            == self.requests_failed
            == 0
        )


def _post(server: Assistant, sender: str, message: Sent) -> None:
    started = time.monotonic()
    try:
        response = requests.post(
            server.webhook, json={"sender": sender, "message": message.text}, timeout=120
        )
        response.raise_for_status()
        message.replies = [reply.get("text", "") for reply in response.json()]
    except requests.RequestException as error:
        message.error = type(error).__name__
    message.seconds = time.monotonic() - started


def _post_at_once(
    barrier: threading.Barrier, servers: Sequence[Assistant], sender: str, message: Sent
) -> None:
    barrier.wait()
    _post(servers[message.server], sender, message)


def send_in_pairs(
    servers: Sequence[Assistant], sender: str, questions: Sequence[str] = QUESTIONS
) -> List[Sent]:
    """Sends `questions` in pairs, the two of a pair at the same moment (a barrier), the first to
    server 0 and the second to server 1 (with one server, both to it); the next pair once both
    are answered. Returns the messages with their replies."""
    sent: List[Sent] = []
    for pair, start in enumerate(range(0, len(questions), 2)):
        batch = [
            Sent(text, (i % 2) % len(servers), pair) for i, text in enumerate(questions[start : start + 2])
        ]
        barrier = threading.Barrier(len(batch))
        threads = [threading.Thread(target=_post_at_once, args=(barrier, servers, sender, m)) for m in batch]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sent.extend(batch)
    return sent


def send_in_turns(servers: Sequence[Assistant], sender: str, questions: Sequence[str]) -> List[Sent]:
    """Sends `questions` one after the other, alternating between the servers."""
    sent = [Sent(text, i % len(servers), i) for i, text in enumerate(questions)]
    for message in sent:
        _post(servers[message.server], sender, message)
    return sent


def _bot_texts(event: Mapping[str, Any]) -> List[str]:
    custom = (event.get("data") or {}).get("custom")
    if custom:
        return [message["text"] for message in render_text(custom)]
    return [event.get("text") or ""]


def stored_turns(database_url: str, sender: str) -> List[Turn]:
    """The conversation's user messages and the bot messages after each, in the order the
    tracker store's `events` table holds them (by id). `database_url`: SQLAlchemy URL of the
    tracker store's database (e.g. `LocalPostgres.url`, `sqlite:///state/conversations.db`)."""
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sqlalchemy.text(
                    "SELECT type_name, data FROM events WHERE sender_id = :sender "
                    "AND type_name IN ('user', 'bot') ORDER BY id"
                ),
                {"sender": sender},
            ).fetchall()
    finally:
        engine.dispose()
    turns: List[Turn] = []
    for type_name, data in rows:
        event = json.loads(data)
        if type_name == "user":
            turns.append(Turn(event.get("text") or ""))
        elif turns:
            turns[-1].replies.extend(_bot_texts(event))
    return turns


def check_conversation(sent: Sequence[Sent], turns: Sequence[Turn]) -> ConversationCheck:
    """Every sent message stored once, no message before one of an earlier pair, and after each
    the bot messages it was answered with, exactly (compares texts; pairs as in `Sent.pair`)."""
    stored_texts = [turn.text for turn in turns]
    pair_of = {message.text: message.pair for message in sent}
    pairs = [pair_of.get(text, -1) for text in stored_texts]
    replies_of = {message.text: message.replies for message in sent}
    return ConversationCheck(
        sent=len(sent),
        stored=len(turns),
        lost=[m.text for m in sent if m.text not in stored_texts],
        duplicated=sorted({text for text in stored_texts if stored_texts.count(text) > 1}),
        out_of_order=pairs != sorted(pairs) or -1 in pairs,
        replies_differ=[t.text for t in turns if t.text in replies_of and t.replies != replies_of[t.text]],
        failed=sum(1 for m in sent if m.error),
    )


def pairs_scenario(
    cluster: Cluster,
    postgres: LocalPostgres,
    conversations: int = 20,
    questions: Sequence[str] = QUESTIONS,
    lock_store: str = "",
) -> PairsReport:
    """`conversations` conversations at once, each `send_in_pairs` over the cluster's first two
    servers, then checked against the tracker store; then one conversation alone, timed."""
    senders = [secrets.token_hex(16) for _ in range(conversations)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=conversations) as pool:
        sent_of = dict(
            zip(senders, pool.map(lambda s: send_in_pairs(cluster.servers[:2], s, questions), senders))
        )
    seconds = time.monotonic() - started
    checks = [check_conversation(sent_of[s], stored_turns(postgres.url, s)) for s in senders]
    alone = send_in_pairs(cluster.servers[:2], secrets.token_hex(16), questions)
    slower = sorted(max(m.seconds for m in alone if m.pair == pair) for pair in {m.pair for m in alone})
    return PairsReport(
        lock_store=lock_store,
        conversations=conversations,
        user_messages_sent=sum(c.sent for c in checks),
        user_messages_stored=sum(c.stored - len(c.duplicated) for c in checks),
        user_messages_lost=sum(len(c.lost) for c in checks),
        user_messages_duplicated=sum(len(c.duplicated) for c in checks),
        conversations_out_of_order=sum(c.out_of_order for c in checks),
        turns_with_replies_differing=sum(len(c.replies_differ) for c in checks),
        requests_failed=sum(c.failed for c in checks),
        seconds=round(seconds, 2),
        slower_of_pair_alone_s_median=round(slower[len(slower) // 2], 3),
    )


def cluster_on(
    folder: Path, postgres: LocalPostgres, redis: LocalRedis, lock_store_type: str, rasa_servers: int = 2
) -> ContextManager[Cluster]:
    """Rasa servers (one action server) on this PostgreSQL and a Redis lock store of this type."""
    return running_cluster(
        MODEL_PATH,
        folder,
        postgres_tracker_store(postgres.host, postgres.port, postgres.database, postgres.user),
        redis_lock_store(redis.host, redis.port, lock_store_type),
        rasa_servers=rasa_servers,
    )


def quick_messages_waits(server: Assistant, count: int = 5) -> List[float]:
    """Seconds from posting to reply of `count` messages of one new conversation posted at once
    (after a first message, so the session has started); in the order they were answered."""
    sender = secrets.token_hex(16)
    server.chat(sender, "hello")
    barrier = threading.Barrier(count)
    waits: List[float] = []

    def go(text: str) -> None:
        barrier.wait()
        started = time.monotonic()
        server.chat(sender, text)
        waits.append(time.monotonic() - started)

    threads = [threading.Thread(target=go, args=(text,)) for text in QUESTIONS[:count]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(waits)


def measure_pairs(lock_store_type: str, conversations: int = 20, runs: int = 1) -> List[PairsReport]:
    """`runs` pairs scenarios on one cluster with this lock store (fresh conversations each)."""
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        postgres = stack.enter_context(running_postgres())
        redis = stack.enter_context(running_redis())
        cluster = stack.enter_context(cluster_on(folder, postgres, redis, lock_store_type))
        for server in cluster.servers:  # warm up the models
            server.chat(secrets.token_hex(16), "hello")
        return [
            pairs_scenario(cluster, postgres, conversations, lock_store=lock_store_type) for _ in range(runs)
        ]


def measure_quick_messages(lock_store: Mapping[str, Any], rounds: int = 3) -> Dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder, running_assistant(
        MODEL_PATH, Path(folder), lock_store=lock_store
    ) as server:
        server.chat(secrets.token_hex(16), "what is kyphoplasty?")  # warm up
        runs = [quick_messages_waits(server) for _ in range(rounds)]
    return {
        "lock_store": lock_store["type"],
        "waits_s": [[round(w, 3) for w in run] for run in runs],
        "fifth_wait_s_median": round(sorted(run[-1] for run in runs)[len(runs) // 2], 3),
    }


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3, help="pairs scenarios per lock store")
    parser.add_argument("--rounds", type=int, default=3, help="runs of the five quick messages")
    arguments = parser.parse_args(argv)
    report = {
        "pairs": [
            asdict(report)
            for t in (ATOMIC_REDIS_LOCK_STORE, STOCK_REDIS_LOCK_STORE)
            for report in measure_pairs(t, arguments.conversations, arguments.runs)
        ],
        "quick_messages": [
            measure_quick_messages(store, arguments.rounds)
            for store in (RASA_IN_MEMORY_LOCK_STORE, IN_PROCESS_LOCK_STORE)
        ],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
