"""The embedded store checkpoints when writes pause, not inside the commit that fills the log."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from tests.storage.fixtures import new_series
from wattbase.model.points import SeriesPoints, WriteMode
from wattbase.model.query import TimeRange, ValueFilter
from wattbase.storage.embedded import EmbeddedStore
from wattbase.storage.embedded_checkpoints import IdleCheckpoints


def _wal(store: EmbeddedStore) -> int:
    wal = Path(f"{store.path}.wal")
    return wal.stat().st_size if wal.exists() else 0


def test_a_large_write_is_checkpointed_once_writes_pause(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "wattbase.duckdb")
    try:
        store.checkpoints.stop()  # the test takes the background thread's place
        # Small transactions go through the log (large ones straight to the file): 100 of
        # them make about 20 MB of log, past DuckDB's own 16 MiB threshold.
        n, parts = 1_000_000, 100
        ts = 1_700_000_000_000_000 + 60_000_000 * np.arange(n, dtype=np.int64)
        v = np.round(np.sin(np.arange(n) / 500.0) * 10, 2)
        with store.write() as session:
            series = new_series(session)
        for part_ts, part_v in zip(np.split(ts, parts), np.split(v, parts), strict=True):
            with store.write() as session:
                session.write_points([SeriesPoints(series.sid, part_ts, part_v)], WriteMode.INSERT)
        assert _wal(store) > 16 * 2**20, "no commit should have checkpointed"
        now = time.monotonic()
        assert not store.checkpoints.run_if_due(now)  # writes have not paused yet
        assert store.checkpoints.run_if_due(now + 60)
        assert _wal(store) == 0
        assert not store.checkpoints.run_if_due(now + 120)  # nothing new to save
        with store.read() as session:
            got_ts, got_v = session.read_points(series.sid, TimeRange(), ValueFilter(), n + 1)
        assert np.array_equal(got_ts, ts) and np.array_equal(got_v, v)
    finally:
        store.close()


def test_writes_that_never_pause_are_checkpointed_once_a_minute() -> None:
    now = [0.0]
    taken: list[float] = []
    checkpoints = IdleCheckpoints(
        lambda: taken.append(now[0]), idle=1.0, longest=60.0, clock=lambda: now[0]
    )
    for step in range(300):  # a write every half second for 150 s, never a pause
        now[0] = step * 0.5
        checkpoints.wrote()
        checkpoints.run_if_due(now[0])
    assert taken == [60.0, 120.5]
    now[0] = 151.0  # then a pause of 1.5 s
    assert checkpoints.run_if_due(now[0])
    assert taken == [60.0, 120.5, 151.0]
