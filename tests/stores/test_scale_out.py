"""The scale-out profile end to end: two Rasa servers sharing a PostgreSQL tracker store and the
project's Redis lock store (tests/stores/conftest.py). A conversation may reach either server
with any message, even two at the same moment: every user message and every bot reply is stored
once, in order. (The control, Rasa's stock RedisLockStore handing two servers one ticket, is in
test_lock_store.py; its end-to-end loss is measured by `python -m evaluation.scale_out`.)"""

from __future__ import annotations

import secrets

from evaluation.local_stores import LocalPostgres
from evaluation.scale_out import QUESTIONS, check_conversation, pairs_scenario, send_in_turns, stored_turns
from evaluation.servers import Cluster


def test_one_conversation_alternating_between_the_servers_keeps_its_history(
    scale_out: Cluster, postgres: LocalPostgres
) -> None:
    sender = secrets.token_hex(16)
    sent = send_in_turns(scale_out.servers, sender, QUESTIONS[:6])
    assert {message.server for message in sent} == {0, 1}
    assert all(message.replies and not message.error for message in sent)
    turns = stored_turns(postgres.url, sender)
    assert [turn.text for turn in turns] == [message.text for message in sent]  # in order, once each
    assert [turn.replies for turn in turns] == [message.replies for message in sent]
    assert check_conversation(sent, turns).intact


def test_concurrent_conversations_with_messages_at_both_servers_at_once_lose_nothing(
    scale_out: Cluster, postgres: LocalPostgres
) -> None:
    """20 conversations at once, each sending 10 messages in pairs, the two of a pair posted to
    the two servers at the same moment."""
    report = pairs_scenario(scale_out, postgres, conversations=20, questions=QUESTIONS)
    assert report.user_messages_sent == 200
    assert report.requests_failed == 0
    assert report.user_messages_stored == 200
    assert report.user_messages_lost == report.user_messages_duplicated == 0
    assert report.conversations_out_of_order == 0
    assert report.turns_with_replies_differing == 0  # each stored bot reply is the one sent, once
    assert report.intact
