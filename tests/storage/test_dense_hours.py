"""Hours of 3,600 points (one a second): writes, overwrites, replaced windows and deletes
across hour boundaries keep exactly the points a plain model of them keeps.

On PostgreSQL such an hour is one block of about 60 kB, which PostgreSQL compresses and
stores out of line; the embedded store keeps rows either way.
"""

from __future__ import annotations

import numpy as np

from tests.storage.fixtures import new_series
from wattbase.model.points import SeriesPoints, WriteMode
from wattbase.model.query import Aggregate, BucketPlan, TimeRange, ValueFilter
from wattbase.storage.base import Store

SECOND = 1_000_000
HOUR = 3_600 * SECOND
BASE = 1_700_002_800 * SECOND  # the start of a UTC hour


def _write(store: Store, sid: int, ts: np.ndarray, v: np.ndarray, mode: WriteMode) -> None:
    with store.write() as session:
        session.write_points([SeriesPoints(sid, ts, v)], mode)


def test_second_data_over_hour_boundaries(store: Store) -> None:
    with store.write() as session:
        sid = new_series(session).sid
    model: dict[int, float] = {}
    ts = BASE + SECOND * np.arange(3 * 3_600, dtype=np.int64)
    v = np.round(np.sin(np.arange(len(ts)) / 300.0) * 10, 2)
    _write(store, sid, ts, v, WriteMode.INSERT)
    model.update(zip(ts.tolist(), v.tolist(), strict=True))

    # Overwrite 90 minutes across the first hour boundary, every other second.
    over = BASE + 1_800 * SECOND + 2 * SECOND * np.arange(2_700, dtype=np.int64)
    over_v = np.full(len(over), 99.0)
    _write(store, sid, over, over_v, WriteMode.UPDATE_WINDOW)
    model.update(zip(over.tolist(), over_v.tolist(), strict=True))

    # Replace a window across the second boundary with ten points.
    window = BASE + 2 * HOUR - 600 * SECOND + 120 * SECOND * np.arange(10, dtype=np.int64)
    _write(store, sid, window, np.full(10, -5.0), WriteMode.REPLACE_WINDOW)
    for t in [t for t in model if int(window[0]) <= t <= int(window[-1])]:
        del model[t]
    model.update(dict.fromkeys(window.tolist(), -5.0))

    # Delete the values of 9 and more in the last 100 minutes.
    since = int(BASE + 3 * HOUR - 6_000 * SECOND)
    with store.write() as session:
        deleted = session.delete_points(sid, TimeRange(since, None), ValueFilter(ge=9.0))
    gone = [t for t, x in model.items() if t >= since and x >= 9.0]
    assert deleted == len(gone)
    for t in gone:
        del model[t]

    want_ts = np.array(sorted(model), dtype=np.int64)
    want_v = np.array([model[t] for t in want_ts.tolist()])
    with store.read() as session:
        got_ts, got_v = session.read_points(sid, TimeRange(), ValueFilter(), 10**6)
        assert np.array_equal(got_ts, want_ts) and np.array_equal(got_v, want_v)
        hours = BucketPlan(width=HOUR)
        keys, counts = session.aggregate_points(
            sid, TimeRange(), hours, Aggregate.COUNT, ValueFilter()
        )
    want_keys, want_counts = np.unique(want_ts - want_ts % HOUR, return_counts=True)
    assert np.array_equal(keys, want_keys) and np.array_equal(counts, want_counts)
