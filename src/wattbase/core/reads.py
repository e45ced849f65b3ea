"""The one query engine: raw pages and bucketed aggregates, for every face."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from wattbase.core.buckets import bucket_instants, plan_buckets
from wattbase.core.clock import zone
from wattbase.errors import InvalidRequest
from wattbase.model.points import Micros, PointsPage, Values
from wattbase.model.query import Aggregate, Precision, TimeRange, ValueFilter
from wattbase.model.things import Series
from wattbase.storage.base import Session

# A range this long or longer is clamped to the stored data before offsets are computed.
CLAMP_SPAN = 50 * 366 * 86_400_000_000


@dataclass(frozen=True, slots=True)
class ReadSpec:
    span: TimeRange = TimeRange()
    precision: Precision | None = None
    aggregate: Aggregate = Aggregate.AVG
    tz: ZoneInfo = field(default_factory=lambda: zone("UTC"))
    values: ValueFilter = ValueFilter()
    limit: int = 100_000
    descending: bool = False


def _empty() -> PointsPage:
    return PointsPage(ts=np.empty(0, dtype=np.int64), v=np.empty(0, dtype=np.float64))


def read_series(session: Session, series: Series, spec: ReadSpec) -> PointsPage:
    """Points of one series as ``spec`` asks; a capped raw answer says where to go on."""
    span = spec.span
    if spec.precision is None:
        ts, v = session.read_points(series.sid, span, spec.values, spec.limit + 1, spec.descending)
        if len(ts) <= spec.limit:
            return PointsPage(ts=ts, v=v)
        ts, v = ts[: spec.limit], v[: spec.limit]
        # Ascending pages go on after the last point; descending ones before it.
        next_start = int(ts[-1]) + 1 if not spec.descending else int(ts[-1])
        return PointsPage(ts=ts, v=v, next_start=next_start)
    if spec.tz.key == "UTC":
        # No offsets to look up, so no need to know where the data lies.
        plan = plan_buckets(spec.precision, spec.tz, 0, 0)
        keys, values = session.aggregate_points(series.sid, span, plan, spec.aggregate, spec.values)
        return PointsPage(ts=_capped(keys, spec), v=values)
    lo, hi = span.start, None if span.end is None else span.end - 1
    if lo is None or hi is None or hi - lo >= CLAMP_SPAN:
        stored = session.point_span(series.sid)
        if stored is None:
            return _empty()
        lo = stored[0] if lo is None else max(lo, stored[0])
        hi = stored[1] if hi is None else min(hi, stored[1])
        if lo > hi:
            return _empty()
    plan = plan_buckets(spec.precision, spec.tz, lo, hi)
    keys, values = session.aggregate_points(series.sid, span, plan, spec.aggregate, spec.values)
    return PointsPage(ts=bucket_instants(plan, _capped(keys, spec), spec.tz), v=values)


def _capped(keys: Micros, spec: ReadSpec) -> Micros:
    # Buckets have no next page (a bucket's end depends on the zone), so an answer that
    # would outgrow the raw cap is refused rather than cut at an arbitrary bucket.
    if len(keys) > spec.limit:
        raise InvalidRequest(
            f"the answer would hold {len(keys)} buckets, more than {spec.limit}; "
            "ask for a coarser precision or a shorter range",
            param="precision",
        )
    return keys


@dataclass(frozen=True, slots=True)
class ManyPage:
    """Raw points of several series in ``(ts, sid)`` order; ``more`` when the limit cut it."""

    ts: Micros
    sid: npt.NDArray[np.int64]
    v: Values
    more: bool


def read_many(
    session: Session,
    series: Sequence[Series],
    span: TimeRange,
    limit: int,
    *,
    descending: bool = False,
    after: tuple[int, int] | None = None,
) -> ManyPage:
    """Up to ``limit`` points of all ``series``, strictly after the keyset ``(ts, sid)``.

    Keyset paging (not offsets) is what lets a walk return every point exactly once even
    while new points arrive: a page never depends on how many rows came before it.
    """
    sids = [s.sid for s in series]
    ts, sid, v = session.read_points_many(sids, span, limit + 1, descending, after)
    return ManyPage(ts[:limit], sid[:limit], v[:limit], more=len(ts) > limit)
