"""Points of the PostgreSQL store: write (three modes), read and aggregate, in SQL.

A write copies the batch into a per-connection staging table with binary ``COPY`` and
merges it with ``INSERT ... ON CONFLICT``; a batch that only appends (every point after its
series' last) is copied straight into the points. Writers hold the store's write lock (an advisory
transaction lock), so counting what matched and then merging cannot race another process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg

from wattbase.model.points import Micros, PointCounts, SeriesPoints, Values, WriteMode
from wattbase.model.query import Aggregate, BucketPlan, TimeRange, ValueFilter
from wattbase.storage.postgres_copy import copy_in, copy_out
from wattbase.storage.postgres_rollups import PgHourRollups
from wattbase.storage.rollups import merge_hours, whole_hours
from wattbase.storage.sql import (
    AGGREGATES,
    floor_to_width,
    hours_fit,
    local_clock,
    span_bounds,
    value_filter,
)

PG_AGGREGATES = {**AGGREGATES, Aggregate.COUNT: "count(v)::float8"}
# Calendar truncation beyond a year: wattbase's decades, centuries and millennia start on
# years divisible by 10, 100 and 1000 (PostgreSQL's own centuries start on year 1).
YEARS_PER_UNIT = {"decade": 10, "century": 100, "millennium": 1000}
STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS wb_stage "
    "(sid integer NOT NULL, ts bigint NOT NULL, v double precision NOT NULL) "
    "ON COMMIT DELETE ROWS"
)


def _floor_div(expr: str, width: int) -> str:
    return f"(({expr} - ((({expr}) % {width}) + {width}) % {width}) / {width})"


def bucket_key(plan: BucketPlan, ts: str = "ts") -> str:
    """The bucket key of ``ts`` as SQL: integers only, so it matches the embedded store."""
    local = local_clock(plan, ts)
    if plan.calendar_unit is None:
        return floor_to_width(local, plan.width, plan.origin)
    moment = f"(timestamp '1970-01-01' + {_floor_div(local, 1_000_000)} * interval '1 second')"
    years = YEARS_PER_UNIT.get(plan.calendar_unit)
    if plan.calendar_unit in ("month", "year"):
        start = f"date_trunc('{plan.calendar_unit}', {moment})"
    elif years is not None:
        start = (
            f"(date_trunc('year', {moment}) - "
            f"make_interval(years => mod(extract(year from {moment})::integer, {years})))"
        )
    else:
        raise ValueError(f"unknown calendar unit {plan.calendar_unit}")
    return f"(extract(epoch from {start}) * 1000000)::bigint"


# The span of monthly partitions (2000-01-01 to 2100-01-01); see the schema.
MONTHLY_FROM = 946_684_800_000_000
MONTHLY_TO = 4_102_444_800_000_000


def month_starts(ts: Micros) -> npt.NDArray[np.int64]:
    """The distinct UTC months ``ts`` falls in (within the monthly span), as their first µs."""
    ts = ts[(ts >= MONTHLY_FROM) & (ts < MONTHLY_TO)]
    months = np.unique(ts.view("datetime64[us]").astype("datetime64[M]"))
    return months.astype("datetime64[us]").view(np.int64)


def _partition_name(start: int) -> str:
    year, index = divmod(
        int(np.datetime64(start, "us").astype("datetime64[M]").astype(np.int64)), 12
    )
    return f"points_{year + 1970:04d}_{index + 1:02d}"


class PointRows(PgHourRollups):
    """The points part of the storage protocol, over the session's psycopg cursor."""

    _cur: psycopg.Cursor[Any]
    _partitioned: bool
    _staged: bool = False

    def _ensure_partitions(self, ts: Micros) -> None:
        """Create the monthly partitions ``ts`` needs (under the write lock, so no race)."""
        if not self._partitioned or not len(ts):
            return
        starts = [int(s) for s in month_starts(ts)]
        names = [_partition_name(s) for s in starts]
        rows = self._cur.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s::text[]) AND relkind = 'r'",
            [names],
        ).fetchall()
        have = {r[0] for r in rows}
        for start, name in zip(starts, names, strict=True):
            if name in have:
                continue
            end = int(
                (np.datetime64(start, "us").astype("datetime64[M]") + 1)
                .astype("datetime64[us]")
                .astype(np.int64)
            )
            self._cur.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF points "
                f"FOR VALUES FROM ({start}) TO ({end})"
            )

    def write_points(
        self, batches: Sequence[SeriesPoints], mode: WriteMode
    ) -> dict[int, PointCounts]:
        counts = {b.sid: PointCounts() for b in batches}
        if mode is WriteMode.REPLACE_WINDOW:
            self._clear_windows(batches, counts)
            self._redo_hours([(b.sid, *span) for b in batches if (span := b.replace_span())])
        batches = [b for b in batches if len(b.ts)]
        if not batches:
            return counts
        sid = np.concatenate([np.full(len(b.ts), b.sid, dtype=np.int32) for b in batches])
        ts = np.concatenate([b.ts for b in batches])
        v = np.concatenate([b.v for b in batches])
        self._ensure_partitions(ts)
        cur = self._cur
        if mode is not WriteMode.REPLACE_WINDOW and self._appends(batches):
            # Every point is newer than its series' last: nothing can conflict, so the
            # batch goes straight into the points, without the stage and ON CONFLICT.
            copy_in(cur, "points", {"sid": ("int4", sid), "ts": ("int8", ts), "v": ("float8", v)})
            self._add_hours(batches)
            for b in batches:
                counts[b.sid].inserted = len(b.ts)
            return counts
        if self._staged:
            # A second write in the same transaction: the stage still holds the first.
            cur.execute("TRUNCATE wb_stage")
        self._staged = True
        copy_in(cur, "wb_stage", {"sid": ("int4", sid), "ts": ("int8", ts), "v": ("float8", v)})
        if mode is WriteMode.REPLACE_WINDOW:
            cur.execute("INSERT INTO points (sid, ts, v) SELECT sid, ts, v FROM wb_stage")
            # Inside the windows just cleared, so their hours hold only these points.
            self._add_hours(batches)
            for b in batches:
                counts[b.sid].inserted = len(b.ts)
            return counts
        update = mode is WriteMode.UPDATE_WINDOW
        # New points go in first; only when some timestamps were taken already is the
        # stage joined to the points (bounded by ts, so the planner skips other months).
        inserted = self._per_sid(
            "WITH ins AS (INSERT INTO points (sid, ts, v) SELECT sid, ts, v FROM wb_stage "
            "ON CONFLICT (sid, ts) DO NOTHING RETURNING sid) "
            "SELECT sid, count(*) FROM ins GROUP BY sid"
        )
        changed: dict[int, int] = {}
        if any(inserted.get(b.sid, 0) < len(b.ts) for b in batches):
            differ = (
                "p.sid = b.sid AND p.ts = b.ts AND p.v <> b.v "
                f"AND p.ts BETWEEN {int(ts.min())} AND {int(ts.max())}"
            )
            changed = self._per_sid(
                "WITH up AS (UPDATE points p SET v = b.v FROM wb_stage b "
                f"WHERE {differ} RETURNING p.sid) SELECT sid, count(*) FROM up GROUP BY sid"
                if update
                else f"SELECT p.sid, count(*) FROM points p, wb_stage b WHERE {differ} "
                "GROUP BY p.sid"
            )
        self._redo_hours([(b.sid, int(b.ts[0]), int(b.ts[-1])) for b in batches])
        for b in batches:
            c = counts[b.sid]
            c.inserted = inserted.get(b.sid, 0)
            matched = len(b.ts) - c.inserted
            differs = changed.get(b.sid, 0)
            if update:
                c.updated = differs
                c.skipped = matched - differs
            else:
                c.skipped = matched
                c.conflicting = differs
        return counts

    def _appends(self, batches: Sequence[SeriesPoints]) -> bool:
        """Whether every batch starts after its series' last stored point.

        Writers hold the store's write lock, so no other writer can add a point in between.
        """
        sids = [b.sid for b in batches]
        if len(set(sids)) != len(sids):
            return False
        rows = self._cur.execute(
            "SELECT s, (SELECT max(ts) FROM points WHERE sid = s) FROM unnest(%s::integer[]) AS s",
            [sids],
        ).fetchall()
        last = {int(s): m for s, m in rows}
        return all(last[b.sid] is None or int(b.ts[0]) > last[b.sid] for b in batches)

    def _per_sid(self, sql: str) -> dict[int, int]:
        return {int(sid): int(n) for sid, n in self._cur.execute(sql).fetchall()}

    def _clear_windows(
        self, batches: Sequence[SeriesPoints], counts: dict[int, PointCounts]
    ) -> None:
        """Delete each batch's window of stored points, counting them per series."""
        spans = [(b.sid, span) for b in batches if (span := b.replace_span()) is not None]
        if not spans:
            return
        rows = self._cur.execute(
            "WITH gone AS (DELETE FROM points p "
            "USING unnest(%s::integer[], %s::bigint[], %s::bigint[]) AS w(sid, lo, hi) "
            "WHERE p.sid = w.sid AND p.ts BETWEEN w.lo AND w.hi RETURNING p.sid) "
            "SELECT sid, count(*) FROM gone GROUP BY sid",
            [
                [sid for sid, _ in spans],
                [lo for _, (lo, _) in spans],
                [hi for _, (_, hi) in spans],
            ],
        ).fetchall()
        for sid, deleted in rows:
            counts[sid].deleted = int(deleted)

    def read_points(
        self,
        sid: int,
        span: TimeRange,
        values: ValueFilter,
        limit: int,
        descending: bool = False,
    ) -> tuple[Micros, Values]:
        start, end = span_bounds(span)
        extra = value_filter(values)
        result = copy_out(
            self._cur,
            "SELECT ts, v FROM points WHERE sid = %s AND ts >= %s AND ts < %s "
            f"{'AND ' + extra if extra else ''} "
            f"ORDER BY ts {'DESC' if descending else 'ASC'} LIMIT %s",
            [sid, start, end, limit],
            ["ts", "v"],
            ["int8", "float8"],
        )
        return result["ts"], result["v"]

    def aggregate_points(
        self,
        sid: int,
        span: TimeRange,
        plan: BucketPlan,
        aggregate: Aggregate,
        values: ValueFilter,
    ) -> tuple[Micros, Values]:
        start, end = span_bounds(span)
        having = value_filter(values, column="a")
        # The bucket SQL holds modulo signs; doubled, psycopg reads them as literal %.
        key = bucket_key(plan).replace("%", "%%")
        first, after = whole_hours(start, end)
        if hours_fit(plan, values) and first < after:
            # Whole hours from the rollup, the partial ones at the ends from the points.
            rows = copy_out(
                self._cur,
                f"SELECT {bucket_key(plan, 'hour').replace('%', '%%')} AS key, n, total, lo, hi "
                "FROM point_hours WHERE sid = %s AND hour >= %s AND hour < %s UNION ALL "
                f"SELECT {key}, count(*), sum(v), min(v), max(v) FROM (SELECT ts, v FROM points "
                "WHERE sid = %s AND ts >= %s AND ts < %s AND (ts < %s OR ts >= %s) OFFSET 0) "
                "AS raw GROUP BY 1",
                [sid, first, after, sid, start, end, first, after],
                ["key", "n", "total", "lo", "hi"],
                ["int8", "int8", "float8", "float8", "float8"],
            )
            return merge_hours(rows, aggregate)
        result = copy_out(
            self._cur,
            # OFFSET 0 keeps the points scan a subquery of its own: otherwise the planner
            # works the bucket expression (one CASE arm per DST change) into every partition.
            f"SELECT k, a FROM (SELECT {key} AS k, {PG_AGGREGATES[aggregate]} AS a "
            "FROM (SELECT ts, v FROM points WHERE sid = %s AND ts >= %s AND ts < %s OFFSET 0) "
            f"AS raw GROUP BY 1) AS buckets {'WHERE ' + having if having else ''} ORDER BY k",
            [sid, start, end],
            ["k", "a"],
            ["int8", "float8"],
        )
        return result["k"], result["a"]

    def delete_points(self, sid: int, span: TimeRange, values: ValueFilter) -> int:
        start, end = span_bounds(span)
        extra = value_filter(values)
        self._cur.execute(
            "DELETE FROM points WHERE sid = %s AND ts >= %s AND ts < %s "
            f"{'AND ' + extra if extra else ''}",
            [sid, start, end],
        )
        deleted = max(self._cur.rowcount, 0)
        if deleted:
            self._redo_hours([(sid, start, end - 1)])
        return deleted

    def point_span(self, sid: int) -> tuple[int, int] | None:
        row = self._cur.execute(
            "SELECT min(ts), max(ts) FROM points WHERE sid = %s", [sid]
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return int(row[0]), int(row[1])

    def read_points_many(
        self,
        sids: Sequence[int],
        span: TimeRange,
        limit: int,
        descending: bool = False,
        after: tuple[int, int] | None = None,
    ) -> tuple[Micros, npt.NDArray[np.int64], Values]:
        start, end = span_bounds(span)
        params: list[object] = [list(sids), start, end]
        keyset = ""
        if after is not None:
            beyond = "<" if descending else ">"
            keyset = f"AND (ts {beyond} %s OR (ts = %s AND sid {beyond} %s))"
            params += [after[0], after[0], after[1]]
        order = "DESC" if descending else "ASC"
        result = copy_out(
            self._cur,
            "SELECT ts, sid::bigint, v FROM points "
            "WHERE sid = ANY(%s::integer[]) AND ts >= %s AND ts < %s "
            f"{keyset} ORDER BY ts {order}, sid {order} LIMIT %s",
            [*params, limit],
            ["ts", "sid", "v"],
            ["int8", "int8", "float8"],
        )
        return result["ts"], result["sid"], result["v"]

    def count_points_many(self, sids: Sequence[int], span: TimeRange) -> int:
        start, end = span_bounds(span)
        row = self._cur.execute(
            "SELECT count(*) FROM points WHERE sid = ANY(%s::integer[]) AND ts >= %s AND ts < %s",
            [list(sids), start, end],
        ).fetchone()
        return 0 if row is None else int(row[0])
