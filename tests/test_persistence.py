"""Conversations outlive the servers: the SQLite tracker store of endpoints.yml keeps them."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import List

import yaml

from evaluation.servers import running_assistant
from nlu_components.paths import PROJECT_ROOT
from scripts.train import MODEL_PATH


def user_texts(database: Path, sender: str) -> List[str]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id", (sender,)
        ).fetchall()
    return [json.loads(data)["text"] for (data,) in rows]


def test_the_run_command_keeps_conversations_in_a_sqlite_file() -> None:
    endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    assert endpoints["tracker_store"] == {
        "type": "stores.tracker_store.StrictSQLTrackerStore",  # Rasa's SQL store, without in-memory fallback
        "dialect": "sqlite",
        "db": "state/conversations.db",
    }
    assert "state/" in (PROJECT_ROOT / ".gitignore").read_text(encoding="utf-8").split()


def test_a_conversation_goes_on_after_the_servers_restart(tmp_path: Path) -> None:
    sender = uuid.uuid4().hex
    with running_assistant(MODEL_PATH, tmp_path) as assistant:
        answer = assistant.chat(sender, "how long is recovery after kyphoplasty?")
    sources = next(m["text"] for m in answer if m["text"].startswith("Sources:"))
    with running_assistant(MODEL_PATH, tmp_path) as assistant:
        follow_up = assistant.chat(sender, "where is that from?")
    # The follow-up needs the last answer (a slot) from before the restart.
    assert sources in [m["text"] for m in follow_up]
    assert user_texts(tmp_path / "conversations.db", sender) == [
        "how long is recovery after kyphoplasty?",
        "where is that from?",
    ]
