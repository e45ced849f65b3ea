"""The one write engine. Every face hands its points here, with one of three modes.

A request is one transaction: its series are resolved (and, where the face allows, created),
its points cleaned, and all of it written, or nothing when anything fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

import numpy as np

from wattbase.core.access import WRITE, require
from wattbase.core.series import get_series, series_on
from wattbase.core.things import find_node
from wattbase.errors import InvalidRequest, PayloadTooLarge
from wattbase.model.points import Micros, PointCounts, SeriesPoints, Values, WriteMode
from wattbase.model.tenancy import Caller
from wattbase.model.things import Series
from wattbase.storage.base import Session, Store


class SeriesTarget(Protocol):
    def resolve(self, session: Session, caller: Caller, place: str) -> Series: ...


@dataclass(frozen=True, slots=True)
class ByUuid:
    """A series named by its UUID (v2, apollo)."""

    uuid: UUID

    def resolve(self, session: Session, caller: Caller, place: str) -> Series:
        return get_series(session, caller, self.uuid, param=place)


@dataclass(frozen=True, slots=True)
class ByNodeTag:
    """A v1 ``(node_id, tag)`` pair; a known node with a new tag gets a new series."""

    node: int | str
    tag: str

    def resolve(self, session: Session, caller: Caller, place: str) -> Series:
        thing = find_node(session, caller, self.node, param=f"{place}.node_id")
        if not self.tag.strip():
            raise InvalidRequest("a tag must not be empty", param=f"{place}.tag")
        series = series_on(session, caller, thing, self.tag, create=True)
        assert series is not None
        return series


@dataclass(slots=True)
class PointsIn:
    """Decoded points for one target; ``place`` names it in errors, e.g. ``[0]``."""

    target: SeriesTarget
    ts: Micros
    v: Values
    place: str


@dataclass(frozen=True, slots=True)
class SeriesReport:
    series: Series
    counts: PointCounts


def check_point_count(count: int, limit: int) -> None:
    """413 for a request with more points than one request may carry."""
    if count > limit:
        raise PayloadTooLarge(
            f"the request holds {count} points; the limit is {limit} a request "
            "(WATTBASE_MAX_POINTS_PER_REQUEST)",
            param="body",
        )


def check_values(v: Values, place: str) -> None:
    """400 naming the first value that is not a finite number."""
    bad = ~np.isfinite(v)
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidRequest(f"value {v[i]!r} is not a finite number", param=f"{place}[{i}].v")


def sort_unique(ts: Micros, v: Values) -> tuple[Micros, Values]:
    """Sort by time; at a repeated timestamp the point sent last wins."""
    if len(ts) < 2 or bool((ts[1:] > ts[:-1]).all()):
        return ts, v
    order = np.argsort(ts, kind="stable")
    ts, v = ts[order], v[order]
    last = np.ones(len(ts), dtype=bool)
    last[:-1] = ts[1:] != ts[:-1]
    return ts[last], v[last]


def _in_bounds(series: Series, v: Values) -> np.ndarray | None:
    lower, upper = series.lower_bound, series.upper_bound
    if lower is None and upper is None:
        return None
    keep = np.ones(len(v), dtype=bool)
    if lower is not None:
        keep &= v >= lower
    if upper is not None:
        keep &= v <= upper
    return keep


def write_points(
    store: Store, caller: Caller, batches: Sequence[PointsIn], mode: WriteMode
) -> list[SeriesReport]:
    """Write every batch in one transaction; one report per series, in request order.

    A small write's transaction may be shared with other requests' small writes (group
    commit); its part then runs again alone if another part fails.
    """
    require(caller, WRITE)

    def write(session: Session) -> list[SeriesReport]:
        resolved = [b.target.resolve(session, caller, b.place) for b in batches]
        grouped: dict[int, tuple[Series, list[PointsIn]]] = {}
        for series, batch in zip(resolved, batches, strict=True):
            grouped.setdefault(series.sid, (series, []))[1].append(batch)
        writes: list[SeriesPoints] = []
        reports: list[SeriesReport] = []
        for series, parts in grouped.values():
            counts = PointCounts()
            ts = parts[0].ts if len(parts) == 1 else np.concatenate([p.ts for p in parts])
            v = parts[0].v if len(parts) == 1 else np.concatenate([p.v for p in parts])
            sent = len(ts)
            ts, v = sort_unique(ts, v)
            counts.skipped = sent - len(ts)
            window = (int(ts[0]), int(ts[-1])) if len(ts) else None
            keep = _in_bounds(series, v)
            if keep is not None:
                counts.out_of_bounds = int(len(keep) - keep.sum())
                ts, v = ts[keep], v[keep]
            writes.append(SeriesPoints(sid=series.sid, ts=ts, v=v, window=window))
            reports.append(SeriesReport(series=series, counts=counts))
        stored = session.write_points(writes, mode)
        for report in reports:
            done = stored[report.series.sid]
            c = report.counts
            c.inserted, c.updated, c.deleted = done.inserted, done.updated, done.deleted
            c.skipped += done.skipped
            c.conflicting = done.conflicting
        return reports

    return store.write_grouped(write, sum(len(b.ts) for b in batches))
