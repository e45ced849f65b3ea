"""Raw reads come back in time order, whatever order the points were stored in."""

from __future__ import annotations

import numpy as np
import pytest

from tests.storage.fixtures import new_series
from wattbase.model.points import SeriesPoints, WriteMode
from wattbase.model.query import TimeRange, ValueFilter
from wattbase.storage.base import Store

MINUTE = 60_000_000


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("limit", [1, 7, 30, 31, 1000])
def test_raw_reads_are_ordered_and_cut_at_the_limit(
    store: Store, descending: bool, limit: int
) -> None:
    ts = 1_700_000_000_000_000 + MINUTE * np.arange(30, dtype=np.int64)
    v = np.arange(30, dtype=np.float64)
    with store.write() as session:
        series = new_series(session)
    # Stored out of time order: the last third first, then the rest in two writes.
    for part in (slice(20, 30), slice(0, 5), slice(5, 20)):
        with store.write() as session:
            session.write_points([SeriesPoints(series.sid, ts[part], v[part])], WriteMode.INSERT)
    with store.read() as session:
        got_ts, got_v = session.read_points(
            series.sid, TimeRange(int(ts[2]), None), ValueFilter(), limit, descending
        )
    want = np.arange(2, 30)[::-1] if descending else np.arange(2, 30)
    want = want[:limit]
    assert np.array_equal(got_ts, ts[want])
    assert np.array_equal(got_v, v[want])


HOUR = 60 * MINUTE


def test_capped_reads_over_many_hours_match_the_points(store: Store) -> None:
    """Ranges that start and end inside an hour, hours of 1 to 60 points, limits that cut
    inside an hour, both orders, with and without a value filter: the answer is the first
    ``limit`` points of the range, as the sent points say."""
    rng = np.random.default_rng(7)
    base = 1_700_000_000_000_000 - 1_700_000_000_000_000 % HOUR
    ts = np.unique(
        np.concatenate([base + h * HOUR + rng.choice(HOUR, rng.integers(1, 61)) for h in range(40)])
    )
    v = rng.integers(0, 100, len(ts)).astype(np.float64)
    with store.write() as session:
        series = new_series(session)
        session.write_points([SeriesPoints(series.sid, ts, v)], WriteMode.INSERT)
    for _ in range(60):
        # Half the ends fall on a stored point, so ``[start, end)`` is tested at both ends.
        ends = rng.integers(base - HOUR, base + 41 * HOUR, 2)
        start, end = sorted(int(x) for x in (rng.choice(ts, 2) if rng.integers(2) else ends))
        limit = int(rng.integers(1, len(ts) + 2))
        descending = bool(rng.integers(2))
        values, passes = [
            (ValueFilter(), np.ones(len(v), dtype=bool)),
            (ValueFilter(ge=30.0, le=70.0), (v >= 30) & (v <= 70)),
            (ValueFilter(ge=70.0, le=30.0), (v >= 70) | (v <= 30)),
        ][int(rng.integers(3))]
        keep = (ts >= start) & (ts < end) & passes
        want_ts, want_v = ts[keep], v[keep]
        if descending:
            want_ts, want_v = want_ts[::-1], want_v[::-1]
        with store.read() as session:
            got_ts, got_v = session.read_points(
                series.sid, TimeRange(start, end), values, limit, descending
            )
        assert np.array_equal(got_ts, want_ts[:limit]), (start, end, limit, descending)
        assert np.array_equal(got_v, want_v[:limit])
