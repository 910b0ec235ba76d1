"""Load generator: N concurrent patient conversations against the REST channel for a fixed time.

Runs as its own process (the benchmark starts it) so it does not share a CPU loop with what it
measures. Loopback only, bounded in time and in messages. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
from typing import Dict, List
from urllib.parse import urlparse

import aiohttp

CONVERSATION = [
    "hello",
    "what is kyphoplasty",
    "how is it done",
    "tell me more",
    "how long is the recovery",
    "how much does it cost",
    "where is that from?",
]
MAX_MESSAGES = 100_000


def percentile(sorted_values: List[float], share: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, round(share * (len(sorted_values) - 1)))]


async def patient(
    session: aiohttp.ClientSession, url: str, deadline: float, latencies: List[float], errors: List[str]
):
    while time.monotonic() < deadline and len(latencies) + len(errors) < MAX_MESSAGES:
        sender = secrets.token_hex(16)  # a new conversation after each script
        for message in CONVERSATION:
            if time.monotonic() >= deadline:
                return
            started = time.perf_counter()
            try:
                async with session.post(url, json={"sender": sender, "message": message}) as response:
                    replies = await response.json()
                    if response.status != 200 or not replies:
                        errors.append(f"HTTP {response.status}")
                        continue
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                errors.append(type(error).__name__)
                continue
            latencies.append((time.perf_counter() - started) * 1000)


async def run(url: str, concurrency: int, seconds: float) -> Dict[str, float]:
    if urlparse(url).hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit("The load generator only targets this machine's loopback addresses.")
    latencies: List[float] = []
    errors: List[str] = []
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(
            *(patient(session, url, deadline, latencies, errors) for _ in range(concurrency))
        )
        elapsed = time.monotonic() - started
    ordered = sorted(latencies)
    return {
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "messages": len(latencies),
        "errors": len(errors),
        "throughput_per_s": round(len(latencies) / elapsed, 2),
        "p50_ms": round(percentile(ordered, 0.50), 1),
        "p95_ms": round(percentile(ordered, 0.95), 1),
        "p99_ms": round(percentile(ordered, 0.99), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20)
    arguments = parser.parse_args()
    print(json.dumps(asyncio.run(run(arguments.url, arguments.concurrency, arguments.seconds))))


if __name__ == "__main__":
    main()
