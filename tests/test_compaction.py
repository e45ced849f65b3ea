"""``wattbase compact``: the embedded store's file rebuilt without the space of overwritten
points, with every row, every object and the series sequence kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.storage.fixtures import new_series
from tests.storage.test_embedded_layout import block_size
from tests.test_backups import embedded, everything, fill, wattbase  # noqa: F401 - a fixture
from wattbase.api import create_app
from wattbase.config import Settings
from wattbase.core import compaction
from wattbase.core.access import authenticate
from wattbase.core.demo import DEMO_SECRET
from wattbase.errors import InvalidRequest
from wattbase.model.points import SeriesPoints, WriteMode
from wattbase.model.query import TimeRange, ValueFilter
from wattbase.storage import embedded_compact, open_store
from wattbase.storage.base import Store
from wattbase.storage.embedded import EmbeddedStore

MINUTE = 60_000_000
POINTS = 300_000


def tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table in the file, in a comparable order."""
    db = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in db.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {n: sorted(db.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}
    finally:
        db.close()


def overwrite_a_quarter_twice(store: Store) -> None:
    """Series of minute points whose last quarter is then written again, twice, with new
    values: fewer than a third of each first row group's rows die, so DuckDB keeps their
    space, and the blocks of the first correction are left free inside the file."""
    ts = np.arange(POINTS, dtype=np.int64) * MINUTE + 1_600_000_000_000_000
    with store.write() as session:
        sids = [new_series(session, f"d{i}").sid for i in range(4)]
    for sid in sids:
        with store.write() as session:
            v = np.round(np.sin(np.arange(POINTS) / 500) * 40 + 50, 2)
            session.write_points([SeriesPoints(sid, ts, v)], WriteMode.INSERT)
    tail = POINTS * 3 // 4
    for value in (7.25, 8.5):
        for sid in sids:
            with store.write() as session:
                batch = SeriesPoints(sid, ts[tail:], np.full(POINTS - tail, value))
                session.write_points([batch], WriteMode.UPDATE_WINDOW)


def test_compaction_keeps_every_row_and_gives_space_back(
    embedded: tuple[Settings, Store],  # noqa: F811 - the fixture imported above
) -> None:
    settings, store = embedded
    with TestClient(create_app(settings, store=store)) as client:
        fill(client, store)
    overwrite_a_quarter_twice(store)
    expected = everything(store)
    store.close()
    path = settings.embedded_path
    rows = tables(path)

    done = compaction.compact(settings)

    assert tables(path) == rows
    assert done.points == len(rows["points"]) == 4 * POINTS + 3 * 3_000 + 2
    assert done.bytes_after < done.bytes_before * 0.85, done
    assert not path.with_name(path.name + ".compacting").exists()
    copy = open_store(settings)
    try:
        assert everything(copy) == expected
        authenticate(copy, "demo", DEMO_SECRET)
        with copy.write() as session:
            # The sequence came along: a new series does not take a stored one's number.
            fresh = new_series(session, "later")
            stored = [s.sid for k, v in expected.items() if k.endswith(".series") for s in v]
            assert fresh.sid > max(stored)
            session.write_points(
                [SeriesPoints(fresh.sid, np.array([0]), np.array([1.5]))], WriteMode.INSERT
            )
        with copy.read() as session:
            got = session.read_points(fresh.sid, TimeRange(), ValueFilter(), 10)
        assert got[1].tolist() == [1.5]
    finally:
        copy.close()


def test_an_interrupted_compaction_leaves_the_store_as_it_was(
    embedded: tuple[Settings, Store],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings, store = embedded
    with TestClient(create_app(settings, store=store)) as client:
        fill(client, store)
    store.close()
    path = settings.embedded_path
    rows = tables(path)

    def broken(db: duckdb.DuckDBPyConnection, source: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(embedded_compact, "_carry_sequences", broken)
    with pytest.raises(OSError, match="disk full"):
        compaction.compact(settings)
    assert tables(path) == rows
    assert not path.with_name(path.name + ".compacting").exists()


def test_a_leftover_from_an_interrupted_compaction_is_replaced(
    embedded: tuple[Settings, Store],  # noqa: F811
) -> None:
    settings, store = embedded
    store.close()
    path = settings.embedded_path
    rows = tables(path)
    path.with_name(path.name + ".compacting").write_bytes(b"half a file")
    compaction.compact(settings)
    assert tables(path) == rows
    assert not path.with_name(path.name + ".compacting").exists()


def test_compact_refuses_a_running_store_and_postgresql(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    missing = wattbase(settings.data_dir, "compact")
    assert missing.returncode == 1 and "no embedded store" in missing.stderr
    store = open_store(settings)  # holds the file as a server would
    try:
        # stat, not read: closing any descriptor of the file drops DuckDB's fcntl lock.
        before = settings.embedded_path.stat()
        held = wattbase(settings.data_dir, "compact")
        assert held.returncode == 1, held.stderr
        assert "in use by a running wattbase server; stop it first, then compact" in held.stderr
        after = settings.embedded_path.stat()
        assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)
    finally:
        store.close()
    done = wattbase(settings.data_dir, "compact")
    assert done.returncode == 0 and "compacted 0 points" in done.stderr, done.stderr
    with pytest.raises(InvalidRequest, match="VACUUM FULL"):
        compaction.compact(settings.model_copy(update={"database_url": "postgresql://x/y"}))


def test_compaction_moves_an_older_file_to_64_kib_blocks(tmp_path: Path) -> None:
    path = tmp_path / "wattbase.duckdb"
    duckdb.connect(str(path)).close()  # DuckDB's default blocks, as earlier versions made
    store = EmbeddedStore(path)
    ts = np.arange(5_000, dtype=np.int64) * MINUTE
    try:
        with store.write() as session:
            session.write_points([SeriesPoints(3, ts, ts / 1e9)], WriteMode.INSERT)
    finally:
        store.close()
    assert block_size(path) == 262_144
    rows = tables(path)
    embedded_compact.compact_file(path)
    assert block_size(path) == 65_536
    assert tables(path) == rows
