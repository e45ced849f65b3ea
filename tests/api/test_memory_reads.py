"""Raw reads of series in the embedded store's point cache are answered on the event loop,
from memory (api/reads.py): the same answers, no thread pool session, and still nothing of
another tenant's. A store answers from memory only what it holds (PostgreSQL: nothing)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.api.v2util import bulk_write, make_series
from tests.conftest import Tenant, settings_for
from wattbase.api import create_app
from wattbase.core.access import create_domain, create_key
from wattbase.core.demo import DEMO_DOMAIN, DEMO_SECRET, ensure_demo
from wattbase.model.tenancy import ALL_SCOPES
from wattbase.storage import open_store
from wattbase.storage.base import NotInMemory, Session, Store

START = "2023-01-01T00:00:00Z"
MINUTES = 3_000


DEMO = Tenant(DEMO_DOMAIN, DEMO_SECRET)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, Store, list[int]]]:
    """The app over an embedded store, and a count of the sessions ``store.read`` opened."""
    settings = settings_for("embedded", tmp_path)
    store = open_store(settings)
    ensure_demo(store)
    opened = [0]
    real: Callable[[], AbstractContextManager[Session]] = store.read

    def counted() -> AbstractContextManager[Session]:
        opened[0] += 1
        return real()

    try:
        with TestClient(create_app(settings, store=store)) as client:
            store.read = counted  # type: ignore[method-assign]
            yield client, store, opened
    finally:
        store.close()


def _series(client: TestClient, store: Store) -> str:
    """A demo series of minute points from ``START``."""
    uuid: str = make_series(client, DEMO)["uuid"]
    first = int(np.datetime64(START.rstrip("Z"), "us").astype(np.int64))
    ts = first + np.arange(MINUTES, dtype=np.int64) * 60_000_000
    bulk_write(store, uuid, ts, np.round(np.sin(np.arange(MINUTES) / 50) * 9, 2))
    return uuid


def test_raw_reads_of_a_cached_series_open_no_session(
    app: tuple[TestClient, Store, list[int]],
) -> None:
    client, store, opened = app
    uuid = _series(client, store)
    raw = f"/api/v2/timeseries/{uuid}/data?start={START}&end=2023-01-02T00:00:00Z"
    answers: list[Any] = []
    for _ in range(4):
        before = opened[0]
        reply = client.get(raw, headers=DEMO.basic_header)
        assert reply.status_code == 200, reply.text
        answers.append((reply.json(), opened[0] - before))
    # Every request opens one for its key (from the MetaCache, on the event loop). Two
    # misses load the series (see embedded_point_cache); then it is read from memory.
    assert [n for _, n in answers] == [2, 2, 1, 1]
    assert all(body == answers[0][0] for body, _ in answers)
    assert len(answers[0][0]) == 1_440
    # Buckets come from the database, in the thread pool.
    before = opened[0]
    reply = client.get(f"{raw}&precision=hour&aggregate=sum", headers=DEMO.basic_header)
    assert reply.status_code == 200 and len(reply.json()) == 24
    assert opened[0] - before == 2
    # A write drops the series: the next read goes to the database and sees it.
    changed = client.post(
        f"/api/v2/timeseries/{uuid}/data?overwrite=update_window",
        json=[{"ts": START, "v": 99.5}],
        headers=DEMO.basic_header,
    )
    assert changed.status_code < 300, changed.text
    for sessions in (2, 2, 1, 1):
        before = opened[0]
        reply = client.get(raw, headers=DEMO.basic_header)
        # Loaded again and read from memory: the JSON kept for the old points is not used.
        assert reply.json() == [{"v": 99.5, "ts": START}, *answers[0][0][1:]]
        assert opened[0] - before == sessions


def test_a_cached_series_stays_invisible_to_another_tenant(
    app: tuple[TestClient, Store, list[int]],
) -> None:
    client, store, _ = app
    uuid = _series(client, store)
    raw = f"/api/v2/timeseries/{uuid}/data?start={START}&end=2023-01-01T01:00:00Z"
    for _ in range(3):
        assert client.get(raw, headers=DEMO.basic_header).status_code == 200
    create_domain(store, "other", "UTC")
    _, secret = create_key(store, "other", ALL_SCOPES)
    stranger = Tenant("other", secret)
    reply = client.get(raw, headers=stranger.basic_header)
    assert reply.status_code == 404, reply.text
    v1 = client.get(
        f"/other/api/v1/timeseries?tag=energy&start={START}", headers=stranger.key_header
    )
    assert v1.status_code == 200 and v1.json() == {"timeseries": []}, v1.text


def test_a_store_answers_from_memory_only_what_it_holds(store: Store) -> None:
    # Nothing is cached in a store just opened; PostgreSQL caches nothing at all.
    with pytest.raises(NotInMemory), store.read_from_memory() as session:
        session.get_domain(DEMO_DOMAIN)
