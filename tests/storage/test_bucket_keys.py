"""Bucket keys from the store against plain integer arithmetic, before and after 1970."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.storage.fixtures import new_series
from wattbase.config import Settings
from wattbase.model.points import SeriesPoints, WriteMode
from wattbase.model.query import Aggregate, BucketPlan, TimeRange, ValueFilter
from wattbase.storage import open_store
from wattbase.storage.base import Store

MINUTE = 60_000_000
HOUR = 60 * MINUTE
# Minute points from two days before 1970 to two days after.
TS = np.arange(-48 * HOUR, 48 * HOUR, 7 * MINUTE, dtype=np.int64)
V = np.round(np.sin(np.arange(len(TS)) / 9.0) * 10, 2)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, int]]:
    store = open_store(Settings(data_dir=Path(tmp_path_factory.mktemp("buckets")) / "data"))
    try:
        with store.write() as session:
            series = new_series(session)
            session.write_points([SeriesPoints(series.sid, TS, V)], WriteMode.INSERT)
        yield store, series.sid
    finally:
        store.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    width=st.sampled_from([15 * MINUTE, HOUR, 24 * HOUR, 7 * 24 * HOUR]),
    origin_steps=st.integers(-30, 30),
    offset_hours=st.lists(st.integers(-3, 3), min_size=0, max_size=3),
    start=st.one_of(st.none(), st.integers(-50 * HOUR, 50 * HOUR)),
)
def test_fixed_width_buckets_match_integer_flooring(
    stored: tuple[Store, int],
    width: int,
    origin_steps: int,
    offset_hours: list[int],
    start: int | None,
) -> None:
    store, sid = stored
    origin = origin_steps * 7 * MINUTE
    steps = tuple(
        (-40 * HOUR + i * 30 * HOUR, hours * HOUR) for i, hours in enumerate(offset_hours)
    )
    plan = BucketPlan(width=width, origin=origin, offsets=steps)
    with store.read() as session:
        keys, sums = session.aggregate_points(
            sid, TimeRange(start, None), plan, Aggregate.SUM, ValueFilter()
        )
    keep = TS >= (start if start is not None else TS.min())
    ts, v = TS[keep], V[keep]
    # The first step's offset holds before it too (see local_clock).
    offset = np.full(len(ts), steps[0][1] if steps else 0, dtype=np.int64)
    for at, step_offset in steps[1:]:
        offset[ts >= at] = step_offset
    want = np.floor_divide(ts + offset - origin, width) * width + origin
    expected_keys = np.unique(want)
    assert np.array_equal(keys, expected_keys)
    expected = np.array([v[want == k].sum() for k in expected_keys])
    assert np.allclose(sums, expected)
