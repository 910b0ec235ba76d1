"""Reply latency by conversation length: turns 1, 50 and 200 of one conversation, REST channel.

What travels on each turn (the installed Rasa 3.6 source): the SQL tracker store loads every event
since the conversation's last `session_started` (rasa/core/tracker_store.py, `_event_query`), the
policies read that tracker, and every custom action call posts it whole to the action server
(rasa/core/actions/action.py, `RemoteAction._action_call_format`: `current_state(ALL)`), with the
whole domain unless the action endpoint sets `enable_selective_domain: true` (an endpoints.yml
option, no retraining; an action that needs the domain says `send_domain: true` in domain.yml,
and none of ours reads it). A session that expires (domain.yml `session_config`, 60 minutes
without a message) starts the next visit from a short tracker; it does not shorten one sitting.

Measured on the real servers (evaluation/servers.py), one message at a time, both action
endpoint settings side by side (two server sets, messages alternating between them, so both see
the same machine load), the long conversations started in a staggered way and the fresh ones
spread over the run, so that machine load drifting during the run reaches every mark alike.
Samples for turn N: turns N-6..N (one of each message of the patient script) of every long
conversation; for turn 1: the first message of fresh conversations, each message of the script
as often. After turn 200 each conversation is aged past the session expiry (its stored
timestamps moved back) and goes on for 7 more turns: what a patient who comes back meets.

    python -m evaluation.turn_latency            # ~10 min on 2 cores (~20 when shared)
    python -m evaluation.turn_latency --quick    # turns 1, 7 and 14 of one conversation
"""

from __future__ import annotations

import argparse
import json
import secrets
import sqlite3
import tempfile
import threading
import time
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence, Tuple

import yaml

from evaluation.load import CONVERSATION, percentile
from evaluation.servers import Assistant, running_assistant
from nlu_components.paths import PROJECT_ROOT

# The action endpoint settings compared: Rasa's default, and what endpoints.yml sets.
CONFIGURATIONS: Dict[str, Dict[str, Any]] = {
    "domain_on_every_call": {"enable_selective_domain": False},
    "selective_domain": {"enable_selective_domain": True},
}
WINDOW = len(CONVERSATION)  # turns per sample window: the patient script once
RETURNED = "returned_after_expiry"


@dataclass(frozen=True)
class TurnSettings:
    conversations: int  # long conversations per configuration
    marks: Tuple[int, ...]  # the turns reported; each after the first at least WINDOW

    @classmethod
    def of(cls, quick: bool) -> TurnSettings:
        return cls(conversations=1, marks=(1, 7, 14)) if quick else cls(conversations=10, marks=(1, 50, 200))


def message_of(turn: int) -> str:
    """The patient's message at `turn` (1-based): the script, over and over."""
    return CONVERSATION[(turn - 1) % len(CONVERSATION)]


def session_expiration_minutes() -> float:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    return float(domain["session_config"]["session_expiration_time"])


def timed_chat(assistant: Assistant, sender: str, message: str) -> float:
    """One message, its reply latency in ms. Raises if the reply is not a 200 with messages."""
    started = time.perf_counter()
    replies = assistant.chat(sender, message)
    elapsed = (time.perf_counter() - started) * 1000
    if not replies:
        raise RuntimeError(f"no reply to {message!r} at {assistant.base_url}")
    return elapsed


def figures(latencies: Sequence[float]) -> Dict[str, float]:
    ordered = sorted(latencies)
    return {
        "p50_ms": round(percentile(ordered, 0.5), 1),
        "p95_ms": round(percentile(ordered, 0.95), 1),
        "samples": len(ordered),
    }


def age_conversations(database: Path, senders: Sequence[str], minutes: float) -> None:
    """Moves every stored event of `senders` `minutes` into the past (column and event JSON), as if
    the patient had been away that long. The Rasa server reads both on the next message."""
    seconds = minutes * 60
    with sqlite3.connect(database) as connection:
        connection.executemany(
            "UPDATE events SET timestamp = timestamp - ?, "
            "data = json_set(data, '$.timestamp', json_extract(data, '$.timestamp') - ?) WHERE sender_id = ?",
            [(seconds, seconds, sender) for sender in senders],
        )


def action_call_kb(database: Path, sender: str, marks: Sequence[int]) -> Dict[str, float]:
    """What one custom action call carries at each mark, in KB of JSON: the tracker (rebuilt from
    the stored events up to that turn's user message) and the domain (domain.yml)."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT type_name, data FROM events WHERE sender_id = ? ORDER BY id", (sender,)
        ).fetchall()
    user_rows = [index for index, (kind, _) in enumerate(rows) if kind == "user"]
    sizes = {"domain": round(len(json.dumps(domain.as_dict())) / 1000, 1)}
    for mark in marks:
        events = [json.loads(data) for _, data in rows[: user_rows[mark - 1] + 1]]
        tracker = DialogueStateTracker.from_dict(sender, events, domain.slots)
        sizes[f"tracker_turn_{mark}"] = round(
            len(json.dumps(tracker.current_state(EventVerbosity.ALL))) / 1000, 1
        )
    return sizes


@contextmanager
def started_together(managers: Sequence[AbstractContextManager]) -> Iterator[List[Any]]:
    """Enters the context managers at once (each in a thread: the Rasa servers load their models in
    parallel), yields what they give, and exits every one that was entered. Re-raises the first
    error of an entry."""
    results: List[Any] = [None] * len(managers)
    errors: List[BaseException] = []
    entered: List[AbstractContextManager] = []
    lock = threading.Lock()

    def enter(index: int) -> None:
        try:
            results[index] = managers[index].__enter__()
            with lock:
                entered.append(managers[index])
        except BaseException as error:  # re-raised below, in the caller's thread
            errors.append(error)

    threads = [threading.Thread(target=enter, args=(index,)) for index in range(len(managers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        if errors:
            raise errors[0]
        yield results
    finally:
        for manager in reversed(entered):
            manager.__exit__(None, None, None)


def measure_on(
    assistants: Dict[str, Assistant], folders: Dict[str, Path], settings: TurnSettings
) -> Dict[str, Any]:
    """The measurement on running server sets, one per configuration (their SQLite tracker stores
    in `folders`/conversations.db)."""
    names = list(assistants)
    for name in names:  # warm-up: the first replies of a fresh server are slower
        for turn in range(1, WINDOW + 1):
            assistants[name].chat(secrets.token_hex(16), message_of(turn))
    last, minutes = max(settings.marks), session_expiration_minutes() + 1
    length = last + WINDOW  # turns per conversation: `last`, then WINDOW after the patient's return
    # Staggered starts: in each round every conversation under way sends its next message, so the
    # turns of every mark are spread over the whole run (the machine's load drifts; a mark
    # measured only at the start or the end would carry that drift).
    stride = max(1, last // settings.conversations)
    starts = [index * stride for index in range(settings.conversations)]
    rounds = starts[-1] + length
    first_samples = settings.conversations * WINDOW
    senders = {name: [secrets.token_hex(16) for _ in starts] for name in names}
    by_turn: Dict[str, Dict[int, List[float]]] = {name: {} for name in names}
    first_turns: Dict[str, List[float]] = {name: [] for name in names}
    for round_number in range(rounds):
        for index, start in enumerate(starts):
            turn = round_number - start + 1
            if not 1 <= turn <= length:
                continue
            for name in names:  # alternating: both configurations under the same load
                if turn == last + 1:  # the patient comes back after the session expired
                    age_conversations(folders[name] / "conversations.db", [senders[name][index]], minutes)
                latency = timed_chat(assistants[name], senders[name][index], message_of(turn))
                by_turn[name].setdefault(turn, []).append(latency)
        while len(first_turns[names[0]]) < first_samples * (round_number + 1) / rounds:
            message = message_of(len(first_turns[names[0]]) + 1)  # turn 1 of a fresh conversation
            for name in names:
                first_turns[name].append(timed_chat(assistants[name], secrets.token_hex(16), message))
    returned = {
        name: [v for turn in range(last + 1, length + 1) for v in by_turn[name][turn]] for name in names
    }
    results: Dict[str, Any] = {}
    for name in names:
        marks = {"turn_1": figures(first_turns[name])}
        for mark in settings.marks[1:]:
            window = [value for turn in range(mark - WINDOW + 1, mark + 1) for value in by_turn[name][turn]]
            marks[f"turn_{mark}"] = figures(window)
        marks[RETURNED] = figures(returned[name])
        results[name] = marks
    reference = names[-1]
    return {
        "date": time.strftime("%Y-%m-%d"),
        "marks": list(settings.marks),
        "conversations": settings.conversations,
        "window_turns": WINDOW,
        "session_expiration_min": session_expiration_minutes(),
        "configurations": results,
        "action_call_kb": action_call_kb(
            folders[reference] / "conversations.db", senders[reference][0], settings.marks
        ),
    }


def measure(model: Path, folder: Path, settings: TurnSettings) -> Dict[str, Any]:
    """Starts one server set per configuration (at once) under `folder` and measures them."""
    folders = {name: folder / name for name in CONFIGURATIONS}
    for path in folders.values():
        path.mkdir(parents=True, exist_ok=True)
    managers = [
        running_assistant(model, folders[name], action_endpoint=options)
        for name, options in CONFIGURATIONS.items()
    ]
    with started_together(managers) as assistants:
        return measure_on(dict(zip(CONFIGURATIONS, assistants)), folders, settings)


def main() -> None:
    from scripts.train import MODEL_PATH

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="turns 1, 7 and 14 of one conversation")
    parser.add_argument("--model", type=Path, default=MODEL_PATH)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        print(json.dumps(measure(arguments.model, Path(scratch), TurnSettings.of(arguments.quick)), indent=2))


if __name__ == "__main__":
    main()
