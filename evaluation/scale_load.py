"""Scale-out load: one Rasa server against two, behind a real load balancer, on this machine.

The scale-out profile on loopback: PostgreSQL as the tracker store and Redis as the lock store
(evaluation/local_stores.py), two Rasa servers each with its own action server
(evaluation/servers.py `running_cluster`), and one nginx (evaluation/load_balancer.py) with two
ports: one balancing over Rasa server 0 only, one over both. The same processes serve both
measurements (the second server set idles while the first is measured alone), so only the
number of serving processes differs. Locust (evaluation/locust_patients.py, its own process)
drives N concurrent patient conversations through the load balancer for a fixed time; levels and
topologies alternate (10: one, two; 50: one, two), in `repeats` rounds; the figures are the
medians over the rounds.

Beside throughput and latency, each run records the CPU time each kind of process used (psutil):
per message, and as cores busy during the run. That is what the README's reasoning about one more
machine rests on.

    python -m evaluation.scale_load            # ~7 min on 2 cores, after ~1 min of start-up
    python -m evaluation.scale_load --quick    # 1 s per run
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple
from urllib.parse import urlparse

import psutil

from evaluation.load_balancer import running_load_balancer
from evaluation.local_stores import running_postgres, running_redis
from evaluation.servers import (
    ATOMIC_REDIS_LOCK_STORE,
    postgres_tracker_store,
    redis_lock_store,
    running_cluster,
)
from nlu_components.paths import PROJECT_ROOT

TOPOLOGIES = {"one": 1, "two": 2}  # load balancer port name: Rasa servers behind it


@dataclass(frozen=True)
class ScaleSettings:
    concurrency: Tuple[int, ...]
    seconds: float  # measured, per run
    warm_up_s: float  # load before each measured run, not counted
    repeats: int  # rounds of all runs; the figures are the medians

    @classmethod
    def of(cls, quick: bool) -> ScaleSettings:
        if quick:
            return cls(concurrency=(10, 50), seconds=1, warm_up_s=2, repeats=1)
        return cls(concurrency=(10, 50), seconds=20, warm_up_s=5, repeats=3)


def processes_by_kind(
    rasa_pids: Sequence[int], action_urls: Sequence[str], postgres_folder: Path
) -> Dict[str, List[psutil.Process]]:
    """The profile's processes by kind: this process's descendants (Rasa servers, the action
    servers of `action_urls`, Redis, nginx) and the PostgreSQL server in `postgres_folder` with its
    backends (pg_ctl starts it outside our process tree). Other servers this process runs at the
    same time (a quick benchmark's other steps) are left out."""
    kinds: Dict[str, List[psutil.Process]] = {
        kind: [] for kind in ("rasa", "actions", "postgres", "redis", "nginx")
    }
    action_ports = {str(urlparse(url).port) for url in action_urls}
    for process in psutil.Process().children(recursive=True):
        try:
            arguments = process.cmdline()
        except psutil.Error:
            continue
        line = " ".join(arguments)
        if process.pid in rasa_pids:
            kinds["rasa"].append(process)
        elif "rasa_sdk" in line and port_argument(arguments) in action_ports:
            kinds["actions"].append(process)
        elif "redis-server" in line:
            kinds["redis"].append(process)
        elif "nginx" in line:
            kinds["nginx"].append(process)
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and str(postgres_folder) in " ".join(
            process.info["cmdline"] or []
        ):
            kinds["postgres"] += [process, *process.children()]
    return kinds


def port_argument(arguments: Sequence[str]) -> str:
    """The value of `--port` in a command line ("" if none)."""
    return arguments[arguments.index("--port") + 1] if "--port" in arguments[:-1] else ""


def cpu_seconds(processes: Sequence[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def measured_run(
    host: str, users: int, settings: ScaleSettings, kinds: Dict[str, List[psutil.Process]]
) -> Dict[str, Any]:
    """One Locust run against `host` (evaluation/locust_patients.py, its own process), and the CPU
    each kind of process used during its measured part (after the warm-up)."""
    command = [sys.executable, "-m", "evaluation.locust_patients", "--host", host, "--users", str(users)]
    command += ["--seconds", str(settings.seconds), "--warm-up", str(settings.warm_up_s)]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    with_locust = {**kinds, "locust": [psutil.Process(process.pid)]}
    lines = []
    for line in process.stdout:  # "measuring" after the warm-up, then the figures (JSON)
        lines.append(line)
        if line.startswith("measuring"):
            before = {kind: cpu_seconds(processes) for kind, processes in with_locust.items()}
            machine_before, started = psutil.cpu_times(), time.monotonic()
        elif line.startswith("{"):
            used = {kind: cpu_seconds(processes) - before[kind] for kind, processes in with_locust.items()}
            machine_after, wall = psutil.cpu_times(), time.monotonic() - started
    errors = process.stderr.read() if process.stderr else ""
    if process.wait() != 0 or not lines or not lines[-1].startswith("{"):
        raise RuntimeError(f"Locust failed:\n{errors[-3000:]}")
    figures = json.loads(lines[-1])
    busy = sum(machine_after) - machine_after.idle - machine_after.iowait
    busy -= sum(machine_before) - machine_before.idle - machine_before.iowait
    messages = max(1, figures["messages"])
    return {
        **figures,
        "cpu_ms_per_message": {kind: round(seconds * 1000 / messages, 1) for kind, seconds in used.items()},
        "cores_busy": {kind: round(seconds / wall, 2) for kind, seconds in used.items()},
        "machine_cores_busy": round(busy / wall, 2),
    }


def measure(
    model: Path, folder: Path, settings: ScaleSettings, lock_store_type: str = ATOMIC_REDIS_LOCK_STORE
) -> Dict[str, Any]:
    """Starts the scale-out profile under `folder`, loads it, returns the figures."""
    with ExitStack() as stack:
        postgres = stack.enter_context(running_postgres())
        redis = stack.enter_context(running_redis())
        tracker_store = postgres_tracker_store(postgres.host, postgres.port, postgres.database, postgres.user)
        lock_store = redis_lock_store(redis.host, redis.port, lock_store_type)
        cluster = stack.enter_context(
            running_cluster(model, folder, tracker_store, lock_store, rasa_servers=2, action_servers=2)
        )
        addresses = [server.base_url.removeprefix("http://") for server in cluster.servers]
        balancer = stack.enter_context(
            running_load_balancer({name: addresses[:count] for name, count in TOPOLOGIES.items()})
        )
        for server in cluster.servers:  # the first replies of a fresh server are slower
            for _ in range(4):
                server.chat(secrets.token_hex(16), "what is kyphoplasty")
        rasa_pids = [server.rasa_pid for server in cluster.servers]
        kinds = processes_by_kind(rasa_pids, cluster.action_urls, postgres.folder)
        runs = []
        for repeat in range(settings.repeats):
            for users in settings.concurrency:
                for name, count in TOPOLOGIES.items():
                    run = measured_run(balancer.urls[name], users, settings, kinds)
                    runs.append({"repeat": repeat, "rasa_servers": count, **run})
    levels = [
        medians([r for r in runs if r["users"] == users and r["rasa_servers"] == count])
        for users in settings.concurrency
        for count in TOPOLOGIES.values()
    ]
    return {
        "date": time.strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "profile": {
            "rasa_servers": 2,
            "action_servers": 2,
            "tracker_store": "PostgreSQL " + postgres_version(),
            "lock_store": lock_store_type,
            "load_balancer": "nginx " + nginx_version(),
            "load": "Locust, closed loop, no think time",
        },
        "seconds": settings.seconds,
        "repeats": settings.repeats,
        "levels": levels,
        "runs": runs,
        "two_over_one": {
            str(users): {key: ratio(levels, users, key) for key in ("throughput_per_s", "p50_ms", "p95_ms")}
            for users in settings.concurrency
        },
    }


def medians(runs: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """The median of each figure over the repeats of one level and topology (failures: the sum)."""
    first = runs[0]
    level: Dict[str, Any] = {"users": first["users"], "rasa_servers": first["rasa_servers"]}
    for key in ("throughput_per_s", "p50_ms", "p95_ms", "p99_ms", "machine_cores_busy"):
        level[key] = round(statistics.median(r[key] for r in runs), 2)
    level["messages"] = sum(r["messages"] for r in runs)
    level["failures"] = sum(r["failures"] for r in runs)
    for key in ("cpu_ms_per_message", "cores_busy"):
        level[key] = {kind: round(statistics.median(r[key][kind] for r in runs), 2) for kind in first[key]}
    return level


def ratio(levels: Sequence[Dict[str, Any]], users: int, key: str) -> float:
    one, two = (
        next(r[key] for r in levels if r["users"] == users and r["rasa_servers"] == n) for n in (1, 2)
    )
    return round(two / one, 3) if one else float("nan")


def postgres_version() -> str:
    from evaluation.local_stores import _postgres_bin

    output = subprocess.run([str(_postgres_bin() / "postgres"), "--version"], capture_output=True, text=True)
    return output.stdout.split()[2] if output.returncode == 0 else "?"  # "postgres (PostgreSQL) 15.18 (...)"


def nginx_version() -> str:
    from evaluation.load_balancer import _nginx

    output = subprocess.run([_nginx(), "-v"], capture_output=True, text=True)
    return output.stderr.strip().split("/")[-1]


def main() -> None:
    from scripts.train import MODEL_PATH

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 s per run")
    parser.add_argument("--model", type=Path, default=MODEL_PATH)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        print(
            json.dumps(measure(arguments.model, Path(scratch), ScaleSettings.of(arguments.quick)), indent=2)
        )


if __name__ == "__main__":
    main()
