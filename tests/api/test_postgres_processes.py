"""Several server processes on one PostgreSQL database: concurrent writes lose nothing."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import Server, clean_database, free_port

KEY = {"Authorization": "Key demo-secret"}
BASE = 1_704_067_200  # 2024-01-01T00:00:00Z, in seconds
BATCHES = 12
SIZE = 800
SHARED = 100  # points every batch of both processes also sends, with the same values


def _stamp(i: int) -> str:
    return datetime.fromtimestamp(BASE + 60 * i, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _batch(process: int, k: int) -> list[dict[str, Any]]:
    """Process 0 owns the even minutes, process 1 the odd ones, in the same time span;
    both also send batch ``k``'s shared minutes, far after the owned ones."""
    owned = range(k * 2 * SIZE + process, (k + 1) * 2 * SIZE, 2)
    shared = range(10**6 + k * SHARED, 10**6 + (k + 1) * SHARED)
    data = [{"ts": _stamp(i), "v": float(i)} for i in [*owned, *shared]]
    return [{"node_id": 1, "tag": "interleaved", "data": data}]


@pytest.fixture
def database(pg_database: str) -> str:
    clean_database(pg_database)
    return pg_database


def _server(url: str, tmp_path: Path, *args: str) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "WATTBASE_PORT": str(port),
        "WATTBASE_LOG_LEVEL": "warning",
        "WATTBASE_DATA_DIR": str(tmp_path / f"data-{port}"),
        "WATTBASE_DATABASE_URL": url,
    }
    return Server(url=f"http://127.0.0.1:{port}", env=env, args=args)


@pytest.fixture
def servers(database: str, tmp_path: Path) -> Iterator[list[Server]]:
    # One of them with two uvicorn workers: three processes write in all.
    running = [_server(database, tmp_path, "--workers", "2"), _server(database, tmp_path)]
    try:
        for server in running:
            server.start()
        yield running
    finally:
        for server in running:
            server.stop()


@pytest.mark.server
def test_interleaved_writes_from_two_servers_store_every_point_once(
    servers: list[Server], database: str
) -> None:
    reports: list[list[dict[str, Any]]] = [[], []]
    failures: list[str] = []

    def write(process: int) -> None:
        with httpx.Client(base_url=servers[process].url, headers=KEY, timeout=60) as client:
            for k in range(BATCHES):
                reply = client.post("/demo/api/v1/timeseries", json=_batch(process, k))
                if reply.status_code != 200:
                    failures.append(reply.text)
                    return
                reports[process].extend(reply.json()["timeseries"])

    threads = [threading.Thread(target=write, args=(p,)) for p in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []

    owned = 2 * BATCHES * SIZE
    shared = BATCHES * SHARED
    counts = [r for rs in reports for r in rs]
    assert len({r["series_uuid"] for r in counts}) == 1, "both made the same series"
    # Each shared point was inserted by exactly one process and skipped by the other.
    assert sum(r["inserted"] for r in counts) == owned + shared
    assert sum(r["skipped"] for r in counts) == shared
    assert sum(r["conflicting"] for r in counts) == 0

    with psycopg.connect(database) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT ts), sum(v), "
            "count(*) FILTER (WHERE v <> (ts / 1000000 - %s) / 60) FROM points",
            [BASE],
        ).fetchone()
    assert row is not None
    expected_sum = sum(range(owned)) + sum(range(10**6, 10**6 + shared))
    assert tuple(row) == (owned + shared, owned + shared, expected_sum, 0)
