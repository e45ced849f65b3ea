"""Hourly rollups on PostgreSQL, kept whole in every write transaction.

Several processes write to one database, so there is no idle moment to catch up in as the
embedded store does: each write brings ``point_hours`` up to date before it commits.
Appends (points after their series' last) are rolled up in numpy from the sent arrays and
merged into their hours with one upsert; any other change recomputes the hours it touched
from the points.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from wattbase.model.points import SeriesPoints
from wattbase.storage.rollups import hours_of, touched_hours
from wattbase.storage.sql import HOUR, hour_of


class PgHourRollups:
    """Upkeep of ``point_hours``, mixed into the PostgreSQL session."""

    _cur: psycopg.Cursor[Any]

    def _add_hours(self, batches: Sequence[SeriesPoints]) -> None:
        """Merge the rollup of points that were not stored before into their hours."""
        batches = [b for b in batches if len(b.ts)]
        if not batches:
            return
        rows = hours_of(batches)
        self._cur.execute(
            "INSERT INTO point_hours (sid, hour, n, total, lo, hi) "
            "SELECT * FROM unnest(%s::integer[], %s::bigint[], %s::bigint[], "
            "%s::float8[], %s::float8[], %s::float8[]) "
            "ON CONFLICT (sid, hour) DO UPDATE SET n = point_hours.n + excluded.n, "
            "total = point_hours.total + excluded.total, "
            "lo = least(point_hours.lo, excluded.lo), hi = greatest(point_hours.hi, excluded.hi)",
            [rows[c].tolist() for c in ("sid", "hour", "n", "total", "lo", "hi")],
        )

    def _redo_hours(self, spans: Sequence[tuple[int, int, int]]) -> None:
        """Recompute the hours that ``(sid, first, last)`` (inclusive instants) touch."""
        hull = touched_hours(spans)
        if not hull:
            return
        params = [
            list(hull),
            [lo for lo, _ in hull.values()],
            [hi + HOUR - 1 for _, hi in hull.values()],
        ]
        spans_sql = "unnest(%s::integer[], %s::bigint[], %s::bigint[]) AS w(sid, lo, hi)"
        self._cur.execute(
            f"DELETE FROM point_hours r USING {spans_sql} "
            "WHERE r.sid = w.sid AND r.hour BETWEEN w.lo AND w.hi",
            params,
        )
        self._cur.execute(
            f"INSERT INTO point_hours (sid, hour, n, total, lo, hi) SELECT p.sid, "
            f"{hour_of('p.ts').replace('%', '%%')}, count(*), sum(p.v), min(p.v), max(p.v) "
            f"FROM points p, {spans_sql} WHERE p.sid = w.sid AND p.ts BETWEEN w.lo AND w.hi "
            "GROUP BY 1, 2",
            params,
        )

    def _drop_hours(self, sid: int) -> None:
        self._cur.execute("DELETE FROM point_hours WHERE sid = %s", [sid])
