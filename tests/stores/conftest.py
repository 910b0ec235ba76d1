"""PostgreSQL and Redis for the store tests, started once per session on loopback spare ports
(evaluation/local_stores.py; Debian's packages, scripts/install_stores.sh), and the scale-out
profile on them: two Rasa servers sharing the PostgreSQL tracker store and the project's Redis
lock store. Tests that take a store down start their own: these stay up."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Iterator

import pytest

from evaluation.local_stores import LocalPostgres, LocalRedis, running_postgres, running_redis
from evaluation.scale_out import cluster_on
from evaluation.servers import ATOMIC_REDIS_LOCK_STORE, Cluster


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[LocalRedis]:
    with running_redis() as server:
        yield server


@pytest.fixture(scope="session")
def scale_out(
    tmp_path_factory: pytest.TempPathFactory, postgres: LocalPostgres, redis_server: LocalRedis
) -> Iterator[Cluster]:
    """Two Rasa servers (started at once) and one action server on the session's stores."""
    folder: Path = tmp_path_factory.mktemp("scale_out")
    with cluster_on(folder, postgres, redis_server, ATOMIC_REDIS_LOCK_STORE) as cluster:
        for server in cluster.servers:  # the first reply loads the models (seconds)
            server.chat(secrets.token_hex(16), "hello")
        yield cluster
