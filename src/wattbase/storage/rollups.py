"""Hourly rollups, the parts both stores share: rows from sent points, buckets from rows.

Both stores keep ``point_hours``: per series and UTC hour, the count, sum, minimum and
maximum of its points. Reads of buckets made of whole hours (``sql.hours_fit``) fetch rows
of ``key, n, total, lo, hi`` (an hour's row, or the points of a partial hour grouped) and
merge them here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from wattbase.model.points import Micros, SeriesPoints, Values
from wattbase.model.query import Aggregate
from wattbase.storage.sql import HOUR


def floor_hour(ts: int) -> int:
    return ts - ts % HOUR


def whole_hours(start: int, end: int) -> tuple[int, int]:
    """The first and the end (exclusive) of the whole hours inside ``[start, end)``."""
    return start - start % -HOUR, end - end % HOUR


def hours_of(batches: Sequence[SeriesPoints]) -> dict[str, npt.NDArray[Any]]:
    """The rollup rows of sorted batches, from their arrays alone."""
    sid, hour, n, total, lo, hi = [], [], [], [], [], []
    for b in batches:
        hours = b.ts - b.ts % HOUR
        starts = np.flatnonzero(np.r_[True, hours[1:] != hours[:-1]])
        sid.append(np.full(len(starts), b.sid, dtype=np.int32))
        hour.append(hours[starts])
        n.append(np.diff(np.r_[starts, len(hours)]).astype(np.int64))
        total.append(np.add.reduceat(b.v, starts))
        lo.append(np.minimum.reduceat(b.v, starts))
        hi.append(np.maximum.reduceat(b.v, starts))
    columns = {"sid": sid, "hour": hour, "n": n, "total": total, "lo": lo, "hi": hi}
    return {name: np.concatenate(parts) for name, parts in columns.items()}


# The rollup columns each aggregate is merged from; reads fetch no others.
NEEDED: dict[Aggregate, tuple[str, ...]] = {
    Aggregate.AVG: ("n", "total"),
    Aggregate.MIN: ("lo",),
    Aggregate.MAX: ("hi",),
    Aggregate.SUM: ("total",),
    Aggregate.COUNT: ("n",),
}


def merge_hours(rows: dict[str, Any], aggregate: Aggregate) -> tuple[Micros, Values]:
    """Bucket keys and values from rows of ``key`` and the columns ``NEEDED`` for
    ``aggregate`` of ``n, total, lo, hi`` (of hours, or of points)."""
    keys = np.asarray(rows["key"], dtype=np.int64)
    if not len(keys):
        return keys, np.empty(0, dtype=np.float64)
    order = None if bool((keys[1:] >= keys[:-1]).all()) else np.argsort(keys, kind="stable")

    def column(name: str, dtype: type) -> npt.NDArray[Any]:
        values: npt.NDArray[Any] = np.asarray(rows[name], dtype=dtype)
        return values if order is None else values[order]

    keys = keys if order is None else keys[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    if aggregate is Aggregate.MIN:
        out = np.minimum.reduceat(column("lo", np.float64), starts)
    elif aggregate is Aggregate.MAX:
        out = np.maximum.reduceat(column("hi", np.float64), starts)
    elif aggregate is Aggregate.SUM:
        out = np.add.reduceat(column("total", np.float64), starts)
    else:
        n = np.add.reduceat(column("n", np.int64), starts).astype(np.float64)
        out = (
            n
            if aggregate is Aggregate.COUNT
            else np.add.reduceat(column("total", np.float64), starts) / n
        )
    return keys[starts], out
