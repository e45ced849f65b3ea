"""The embedded store keeps times as whole seconds plus microseconds (migration 6), and a
store from before that keeps every point, to the microsecond, when it is opened. New files
have 64 KiB blocks, in which every point column is still compressed."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np

from wattbase.model.points import SeriesPoints, WriteMode
from wattbase.model.query import TimeRange, ValueFilter
from wattbase.storage.embedded import EmbeddedStore

# Before 1970, on a second, just either side of one, and microseconds apart.
STAMPS = np.array(
    [-3_600_000_001, -1_000_000, -1, 0, 1, 999_999, 1_000_000, 1_700_000_000_123_456],
    dtype=np.int64,
)


def _read(store: EmbeddedStore, sid: int) -> tuple[list[int], list[float]]:
    with store.read() as session:
        ts, v = session.read_points(sid, TimeRange(), ValueFilter(), 100)
    return ts.tolist(), v.tolist()


def _each_alone(store: EmbeddedStore, sid: int) -> list[list[int]]:
    """Each stamp read by a range of its one microsecond: pruning by the stored seconds
    must keep it, on either side of 1970."""
    with store.read() as session:
        return [
            session.read_points(sid, TimeRange(t, t + 1), ValueFilter(), 100)[0].tolist()
            for t in STAMPS.tolist()
        ]


def test_times_are_stored_as_seconds_and_microseconds(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "wattbase.duckdb")
    try:
        with store.write() as session:
            session.write_points(
                [SeriesPoints(1, STAMPS, np.arange(len(STAMPS), dtype=np.float64))],
                WriteMode.INSERT,
            )
        stored = store._db.cursor().execute("SELECT ts_s, ts_us FROM points ORDER BY ts")
        pairs = stored.fetchall()
        # Seconds floored, so the microseconds past them are never negative.
        assert all(0 <= us < 1_000_000 for _, us in pairs)
        assert [s * 1_000_000 + us for s, us in pairs] == STAMPS.tolist()
        assert _read(store, 1)[0] == STAMPS.tolist()
        assert _each_alone(store, 1) == [[t] for t in STAMPS.tolist()]
        # A range that starts and ends inside seconds keeps to its microseconds.
        with store.read() as session:
            ts, _ = session.read_points(1, TimeRange(-1_000_000, 1_000_000), ValueFilter(), 100)
        assert ts.tolist() == [-1_000_000, -1, 0, 1, 999_999]
    finally:
        store.close()


def test_a_store_from_before_the_split_keeps_every_point(tmp_path: Path) -> None:
    path = tmp_path / "wattbase.duckdb"
    store = EmbeddedStore(path)
    values = np.arange(len(STAMPS), dtype=np.float64) / 4
    cursor = store._db.cursor()
    # The points table as migration 1 made it, holding what an older version wrote.
    cursor.execute("DROP TABLE points")
    cursor.execute("CREATE TABLE points (sid INTEGER NOT NULL, ts BIGINT NOT NULL, v DOUBLE)")
    cursor.register("old", {"sid": np.full(len(STAMPS), 7, np.int32), "ts": STAMPS, "v": values})
    cursor.execute("INSERT INTO points SELECT sid, ts, v FROM old")
    cursor.execute("DELETE FROM schema_migrations WHERE version >= 6")
    cursor.close()
    store.close()
    store = EmbeddedStore(path)
    try:
        assert _read(store, 7) == (STAMPS.tolist(), values.tolist())
        assert _each_alone(store, 7) == [[t] for t in STAMPS.tolist()]
        columns = (
            store._db.cursor()
            .execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'points'")
            .fetchall()
        )
        assert [c for (c,) in columns] == ["sid", "ts_s", "ts_us", "v", "ts"]
    finally:
        store.close()


def block_size(path: Path) -> int:
    db = duckdb.connect(str(path), read_only=True)
    try:
        return int(db.execute("SELECT block_size FROM pragma_database_size()").fetchall()[0][0])
    finally:
        db.close()


def test_a_new_file_has_64_kib_blocks_and_packs_every_point_column(tmp_path: Path) -> None:
    path = tmp_path / "wattbase.duckdb"
    store = EmbeddedStore(path)
    n = 300_000
    ts = 1_700_000_000_000_000 + np.arange(n, dtype=np.int64) * 60_000_000
    v = np.round(20 + 8 * np.sin(np.arange(n) / 229), 2)
    try:
        with store.write() as session:
            session.write_points([SeriesPoints(1, ts, v)], WriteMode.INSERT)
            session.write_points([SeriesPoints(2, ts, v + 1)], WriteMode.INSERT)
        cursor = store._db.cursor()
        cursor.execute("CHECKPOINT")
        kinds = cursor.execute(
            "SELECT column_name, list(DISTINCT compression) FROM pragma_storage_info('points') "
            "WHERE segment_type <> 'VALIDITY' GROUP BY ALL"
        ).fetchall()
        cursor.close()
    finally:
        store.close()
    assert block_size(path) == 65_536
    # In blocks of 32 KiB, DuckDB stored the times uncompressed.
    assert {column: "Uncompressed" in found for column, found in kinds} == {
        "sid": False,
        "ts_s": False,
        "ts_us": False,
        "v": False,
    }
