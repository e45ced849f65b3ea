"""Raw reads come back in time order, whatever order the points were stored in."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import numpy as np
import pytest

from wattbase.model.points import SeriesPoints, WriteMode
from wattbase.model.query import TimeRange, ValueFilter
from wattbase.model.tenancy import Domain
from wattbase.model.things import Series, Thing
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
        session.put_domain(Domain("d"))
        thing = Thing(uuid4(), "d", 1, "meter", "default", datetime.now(UTC))
        session.put_thing(thing)
        series = Series(uuid4(), session.next_sid(), "d", thing.uuid, "p", datetime.now(UTC))
        session.put_series(series)
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
