"""Hourly rollups of the embedded store.

``point_hours`` holds, per series and UTC hour, the count, sum, minimum and maximum of the
hour's points, for every hour before the series' mark in ``rollup_marks``. Bucketed reads
whose buckets are made of whole hours (``sql.hours_fit``) read the rows of the rolled hours
in their range and the points of the rest: a year of minute data is 8,760 rows instead of
525,600 points.

Ingest pays almost nothing for this: ``roll_hours`` moves the marks forward, past the hour
of each series' last point, with each idle checkpoint (writes paused, or a minute of them).
Appends lie after a series' last point, so only the first append after a roll can touch a
rolled hour: the one its series ended in. That append, and every other change to points
before a mark (an overwrite, a window cleared, a delete), recomputes the hours it touched
within the same transaction, so the rollup never disagrees with a commit.

The last hour is rolled up too, although more points may come for it: reads of a series'
whole range then need no points at all, and a new roll costs the next append one hour.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np

from wattbase.storage.embedded_schema import hours_between, seconds_between
from wattbase.storage.rollups import floor_hour
from wattbase.storage.sql import HOUR, MAX_TS, MIN_TS, hour_of


def _of(sids: Sequence[int] | None) -> tuple[str, list[object]]:
    """A WHERE clause for rows of ``sids`` (None: every series), and its parameters."""
    return ("", []) if sids is None else (" WHERE list_contains(?, sid)", [list(sids)])


def _touched_hours(
    spans: Sequence[tuple[int, int, int]], marks: dict[int, int]
) -> dict[int, tuple[int, int]]:
    """Per series, the first and last rolled hour start (before the series' mark) that
    ``(sid, first, last)`` spans (inclusive instants) touch, joined into one span:
    overlapping ones would count points twice. Series without a mark are left out."""
    hull: dict[int, tuple[int, int]] = {}
    for sid, first, last in spans:
        if sid not in marks:
            continue
        lo = floor_hour(max(first, MIN_TS))
        hi = min(floor_hour(min(last, MAX_TS)), marks[sid] - HOUR)
        if lo > hi:
            continue  # nothing rolled in the span
        old = hull.get(sid, (lo, hi))
        hull[sid] = (min(old[0], lo), max(old[1], hi))
    return hull


class HourRollups:
    """Upkeep of ``point_hours``, mixed into the session that writes points."""

    _cur: duckdb.DuckDBPyConnection
    # Series whose rollup this transaction dropped, for the store's copy of the marks.
    dropped_marks: set[int]

    def _marks(self, sids: Sequence[int] | None) -> dict[int, int]:
        """The marks of ``sids``; None: of every series."""
        where, params = _of(sids)
        rows = self._cur.execute(
            f"SELECT sid, rolled_to FROM rollup_marks{where}", params
        ).fetchall()
        return {int(sid): int(mark) for sid, mark in rows}

    def _recompute(self, spans: dict[int, tuple[int, int]]) -> None:
        """Replace the rows of hours ``first..last`` (hour starts, inclusive) per series."""
        sids = np.fromiter(spans, dtype=np.int32, count=len(spans))
        los = np.array([lo for lo, _ in spans.values()], dtype=np.int64)
        his = np.array([hi + HOUR - 1 for _, hi in spans.values()], dtype=np.int64)
        # Constant bounds as well as the join, so DuckDB skips row groups by their zone maps.
        lo, hi = int(los.min()), int(his.max())
        series = f"sid BETWEEN {int(sids.min())} AND {int(sids.max())}"
        cur = self._cur
        cur.register("wb_hours", {"sid": sids, "lo": los, "hi": his})
        try:
            cur.execute(
                "DELETE FROM point_hours r USING wb_hours w WHERE r.sid = w.sid "
                f"AND r.hour BETWEEN w.lo AND w.hi AND r.{series} AND {hours_between(lo, hi, 'r')}"
            ).fetchall()
            # In order: a series' hours then pack as constant steps. ``fsum`` (compensated)
            # nearly always gives an hour of two-decimal values a total that is a short
            # decimal itself, which DuckDB packs in about 2 bytes; a plain sum's rounding
            # errors sent more than half of them to its 8-byte fallback.
            cur.execute(
                f"INSERT INTO point_hours (sid, h, n, total, lo, hi) SELECT p.sid, "
                f"{hour_of('p.ts')} // {HOUR} AS h, count(*), fsum(p.v), min(p.v), max(p.v) "
                "FROM points p, wb_hours w WHERE p.sid = w.sid "
                f"AND p.ts BETWEEN w.lo AND w.hi AND p.{series} AND {seconds_between(lo, hi, 'p')} "
                "GROUP BY ALL ORDER BY 1, 2"
            ).fetchall()
        finally:
            cur.unregister("wb_hours")

    def _redo_hours(self, spans: Sequence[tuple[int, int, int]]) -> None:
        """Recompute the rolled hours that ``(sid, first, last)`` (inclusive instants) touch."""
        if not spans:
            return
        hull = _touched_hours(spans, self._marks(sorted({sid for sid, _, _ in spans})))
        if hull:
            self._recompute(hull)

    def _drop_hours(self, sid: int) -> None:
        self._cur.execute("DELETE FROM point_hours WHERE sid = ?", [sid]).fetchall()
        self._cur.execute("DELETE FROM rollup_marks WHERE sid = ?", [sid]).fetchall()
        self.dropped_marks.add(sid)

    def roll_hours(self, sids: Sequence[int] | None) -> dict[int, int]:
        """Roll up each series' hours through the hour of its last point (of ``sids``;
        None: of every series); the new marks."""
        if sids is not None and not sids:
            return {}
        marks = self._marks(sids)
        where, params = _of(sids)
        tails = self._cur.execute(
            f"SELECT sid, max(ts) FROM points{where} GROUP BY sid", params
        ).fetchall()
        spans: dict[int, tuple[int, int]] = {}
        for sid, tail in tails:
            start, stop = marks.get(int(sid), MIN_TS), floor_hour(int(tail)) + HOUR
            if stop > start:
                spans[int(sid)] = (start, stop - HOUR)
        if not spans:
            return {}
        self._recompute(spans)
        marks = {sid: hi + HOUR for sid, (_, hi) in spans.items()}
        cur = self._cur
        cur.register(
            "wb_marks",
            {
                "sid": np.fromiter(marks, dtype=np.int32, count=len(marks)),
                "rolled_to": np.fromiter(marks.values(), dtype=np.int64, count=len(marks)),
            },
        )
        try:
            cur.execute("INSERT OR REPLACE INTO rollup_marks SELECT * FROM wb_marks").fetchall()
        finally:
            cur.unregister("wb_marks")
        return marks
