"""Locust load: patients chatting with the REST channel, run headless from Python.

Each Locust user is one patient conversation at a time: a fresh 32-hex session id, the patient
script of evaluation/load.py message by message (each waits for its reply, no think time: the
load measures capacity), then a new conversation. A reply counts as a failure unless it is an
HTTP 200 with at least one message.

Runs in its own process (Locust patches the standard library for gevent on import, and the
benchmark must not share a CPU loop with the servers it measures): evaluation/scale_load.py
starts it. Loopback targets only; bounded in time. Prints "measuring" when the warm-up ends, then
one JSON line:
{"users", "seconds", "messages", "failures", "throughput_per_s", "p50_ms", "p95_ms", "p99_ms"}.

    python -m evaluation.locust_patients --host http://127.0.0.1:8080 --users 10 --seconds 20
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from typing import Dict
from urllib.parse import urlparse

import gevent
from locust import FastHttpUser, constant, task
from locust.env import Environment

from evaluation.load import CONVERSATION

WEBHOOK = "/webhooks/rest/webhook"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class Patient(FastHttpUser):
    """One patient conversation after another."""

    wait_time = constant(0)
    network_timeout = 60.0
    connection_timeout = 10.0

    @task
    def conversation(self) -> None:
        sender = secrets.token_hex(16)
        for message in CONVERSATION:
            with self.client.post(
                WEBHOOK, json={"sender": sender, "message": message}, name=WEBHOOK, catch_response=True
            ) as response:
                if response.status_code != 200:
                    response.failure(f"HTTP {response.status_code}")
                elif not response.json():
                    response.failure("no reply")


def run(host: str, users: int, seconds: float, warm_up_s: float) -> Dict[str, float]:
    """`users` patients for `warm_up_s` (not counted), then `seconds` measured."""
    if urlparse(host).hostname not in LOOPBACK:
        raise SystemExit("The load only targets this machine's loopback addresses.")
    environment = Environment(user_classes=[Patient], host=host)
    runner = environment.create_local_runner()
    runner.start(users, spawn_rate=users)
    gevent.sleep(warm_up_s)
    environment.stats.reset_all()
    print("measuring", flush=True)  # evaluation/scale_load.py samples CPU times from here
    started = time.monotonic()
    gevent.sleep(seconds)
    total = environment.stats.total
    elapsed = time.monotonic() - started
    figures = {
        "users": users,
        "seconds": round(elapsed, 2),
        "messages": total.num_requests - total.num_failures,
        "failures": total.num_failures,
        "throughput_per_s": round((total.num_requests - total.num_failures) / elapsed, 2),
        "p50_ms": total.get_response_time_percentile(0.50),
        "p95_ms": total.get_response_time_percentile(0.95),
        "p99_ms": total.get_response_time_percentile(0.99),
    }
    print(json.dumps(figures), flush=True)
    runner.quit()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", required=True, help="the load balancer or Rasa server, on loopback")
    parser.add_argument("--users", type=int, default=10, help="concurrent conversations")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warm-up", type=float, default=3, help="seconds of load before measuring")
    arguments = parser.parse_args()
    run(arguments.host, arguments.users, arguments.seconds, arguments.warm_up)


if __name__ == "__main__":
    main()
