"""Points of the PostgreSQL store: write (three modes), read and aggregate.

Points are kept in blocks, one row of ``point_blocks`` per series and UTC hour: the hour's
times and values as two sorted arrays. A row of ``(sid, ts, v)`` per point cost 95 bytes
with its index; a block of 60 minute values costs about 20 per point. Each block's count,
sum, minimum and maximum (its row of the hourly rollup, ``point_hours``) are written with it.

A write builds the blocks of hours that have none yet from the sent arrays and copies them
in. Points of hours that have a block go through a staging table and are merged with it in
one statement: sent and stored points are joined on time, each changed hour is rebuilt from
the join, and the join's rows are counted per series. Writers hold the store's write lock
(an advisory transaction lock), so no other writer changes a block in between.

Raw reads copy the blocks' arrays out as they are and cut them to the range in numpy;
aggregates unnest the points in SQL. Every query bounds ``hour`` as well as ``ts``, so
PostgreSQL reads only the blocks of the range.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg

from wattbase.model.points import Micros, PointCounts, SeriesPoints, Values, WriteMode
from wattbase.model.query import Aggregate, BucketPlan, TimeRange, ValueFilter
from wattbase.storage.postgres_copy import copy_blocks, copy_in, copy_out, copy_out_blocks
from wattbase.storage.rollups import floor_hour, hours_of, merge_hours, whole_hours
from wattbase.storage.sql import (
    AGGREGATES,
    HOUR,
    floor_to_width,
    hour_of,
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
# The points of blocks, a row each (unnest in the select list costs the server about half
# of unnest in FROM); {} takes the condition on the blocks.
RAW = "SELECT unnest(ts) AS ts, unnest(v) AS v FROM point_blocks WHERE {}"
ONE_SERIES = "sid = %s AND hour >= %s AND hour < %s"
# A block and its rollup rebuilt from rows of (sid, hour, ts, v) grouped by sid and hour.
BUILD = (
    "count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi, "
    "array_agg(ts ORDER BY ts) AS ts, array_agg(v ORDER BY ts) AS v"
)


def _store(rebuilt: str) -> str:
    """CTEs that write the blocks and rollup rows of the CTE ``rebuilt`` over their own."""
    return (
        f"blocks AS (INSERT INTO point_blocks (sid, hour, ts, v) SELECT sid, hour, ts, v "
        f"FROM {rebuilt} ON CONFLICT (sid, hour) DO UPDATE SET ts = excluded.ts, "
        "v = excluded.v), "
        "rollup AS (INSERT INTO point_hours (sid, hour, n, total, lo, hi) "
        f"SELECT sid, hour, n, total, lo, hi FROM {rebuilt} ON CONFLICT (sid, hour) DO UPDATE "
        "SET n = excluded.n, total = excluded.total, lo = excluded.lo, hi = excluded.hi)"
    )


# The windows of a cut: per series, an inclusive span of instants.
WINDOWS = "unnest(%s::integer[], %s::bigint[], %s::bigint[]) AS {}(sid, lo, hi)"


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


def _merge_sql(update: bool) -> str:
    """Merge ``wb_stage`` into the blocks; rows of (sid, inserted, differing) per series.

    Only hours that gain a point, or whose values an update changes, are written again.
    """
    hour = hour_of("ts")  # run without parameters: its % signs stay as they are
    kept = "coalesce(s.v, o.v)" if update else "coalesce(o.v, s.v)"
    changed = "added OR differs" if update else "added"
    return (
        f"WITH hours AS (SELECT DISTINCT sid, {hour} AS hour FROM wb_stage), "
        "old AS (SELECT b.sid, u.ts, u.v FROM hours h "
        "JOIN point_blocks b ON b.sid = h.sid AND b.hour = h.hour, "
        "unnest(b.ts, b.v) AS u(ts, v)), "
        "merged AS (SELECT coalesce(s.sid, o.sid) AS sid, coalesce(s.ts, o.ts) AS ts, "
        f"{kept} AS v, o.ts IS NULL AS added, s.v <> o.v AS differs "
        "FROM wb_stage s FULL JOIN old o ON o.sid = s.sid AND o.ts = s.ts), "
        f"rebuilt AS (SELECT sid, {hour} AS hour, {BUILD} FROM merged GROUP BY 1, 2 "
        f"HAVING bool_or({changed})), {_store('rebuilt')} "
        "SELECT sid, count(*) FILTER (WHERE added), count(*) FILTER (WHERE differs) "
        "FROM merged GROUP BY sid"
    )


MERGE = {False: _merge_sql(False), True: _merge_sql(True)}


def _per_sid(sids: npt.NDArray[Any], n: npt.NDArray[Any]) -> dict[int, int]:
    """The sums of ``n`` per series."""
    unique, index = np.unique(sids, return_inverse=True)
    sums = np.bincount(index, weights=n, minlength=len(unique))
    return {int(s): int(total) for s, total in zip(unique, sums, strict=True)}


class PointRows:
    """The points part of the storage protocol, over the session's psycopg cursor."""

    _cur: psycopg.Cursor[Any]
    _staged: bool = False

    def write_points(
        self, batches: Sequence[SeriesPoints], mode: WriteMode
    ) -> dict[int, PointCounts]:
        counts = {b.sid: PointCounts() for b in batches}
        if mode is WriteMode.REPLACE_WINDOW:
            spans = [(b.sid, *span) for b in batches if (span := b.replace_span())]
            for cleared, deleted in self._cut(spans, ValueFilter()).items():
                counts[cleared].deleted = deleted
        batches = [b for b in batches if len(b.ts)]
        if not batches:
            return counts
        blocks = hours_of(batches)
        ts = np.concatenate([b.ts for b in batches])
        v = np.concatenate([b.v for b in batches])
        stored = self._stored_blocks(blocks)
        # Hours with no block yet take their points as they are: blocks built here, copied
        # in. Only hours that have one are merged in SQL.
        fresh = ~stored
        if fresh.any():
            points = np.repeat(fresh, blocks["n"])
            new = {k: c[fresh] for k, c in blocks.items()}
            copy_blocks(self._cur, new, ts[points], v[points])
            copy_in(
                self._cur,
                "point_hours",
                {"sid": ("int4", new["sid"]), "hour": ("int8", new["hour"])}
                | {k: ("float8", new[k]) for k in ("total", "lo", "hi")}
                | {"n": ("int8", new["n"])},
            )
            for series, n in _per_sid(blocks["sid"][fresh], blocks["n"][fresh]).items():
                counts[series].inserted += n
        if stored.any():
            points = np.repeat(stored, blocks["n"])
            sids = np.repeat(blocks["sid"], blocks["n"])[points]
            # Replace cleared every window first, so each of its points is new: an insert.
            update = mode is WriteMode.UPDATE_WINDOW
            merged = self._merge(sids, ts[points], v[points], update)
            sent = _per_sid(blocks["sid"][stored], blocks["n"][stored])
            for series, n in sent.items():
                c = counts[series]
                added, differs = merged.get(series, (0, 0))
                c.inserted += added
                if update:
                    c.updated = differs
                    c.skipped = n - added - differs
                else:
                    c.skipped = n - added
                    c.conflicting = differs
        return counts

    def _stored_blocks(self, blocks: dict[str, npt.NDArray[Any]]) -> npt.NDArray[np.bool_]:
        """Which of the blocks (sid, hour) are stored already."""
        found = self._cur.execute(
            "SELECT h.i FROM unnest(%s::integer[], %s::bigint[]) WITH ORDINALITY "
            "AS h(sid, hour, i) JOIN point_blocks b ON b.sid = h.sid AND b.hour = h.hour",
            [blocks["sid"].tolist(), blocks["hour"].tolist()],
        ).fetchall()
        stored = np.zeros(len(blocks["sid"]), dtype=bool)
        stored[[int(i) - 1 for (i,) in found]] = True
        return stored

    def _merge(
        self, sid: npt.NDArray[np.int32], ts: Micros, v: Values, update: bool
    ) -> dict[int, tuple[int, int]]:
        """Merge points into their stored blocks; per series, how many were new and how
        many differed from the stored value at their time."""
        if self._staged:
            # A second write in the same transaction: the stage still holds the first.
            self._cur.execute("TRUNCATE wb_stage")
        self._staged = True
        copy_in(
            self._cur, "wb_stage", {"sid": ("int4", sid), "ts": ("int8", ts), "v": ("float8", v)}
        )
        rows = self._cur.execute(MERGE[update]).fetchall()
        return {int(s): (int(added), int(differs)) for s, added, differs in rows}

    def _cut(self, spans: Sequence[tuple[int, int, int]], values: ValueFilter) -> dict[int, int]:
        """Delete the points in ``(sid, first, last)`` (inclusive instants) that pass
        ``values``; how many per series."""
        if not spans:
            return {}
        params = [[s[0] for s in spans], [s[1] for s in spans], [s[2] for s in spans]]
        deleted: dict[int, int] = {}
        extra = value_filter(values, column="u.v")
        if not extra:
            # Blocks wholly inside a window go in one step, without reading their arrays.
            for sid, n in self._cur.execute(
                f"WITH gone AS (DELETE FROM point_hours r USING {WINDOWS.format('w')} "
                f"WHERE r.sid = w.sid AND r.hour >= w.lo AND r.hour + {HOUR - 1} <= w.hi "
                "RETURNING r.sid, r.hour, r.n), blocks AS (DELETE FROM point_blocks b "
                "USING gone g WHERE b.sid = g.sid AND b.hour = g.hour) "
                "SELECT sid, sum(n) FROM gone GROUP BY sid",
                params,
            ).fetchall():
                deleted[int(sid)] = int(n)
        # What is left is the blocks at the windows' edges (and, with a value filter, all of
        # them): each is rebuilt from the points it keeps, or deleted when it keeps none.
        hour = hour_of("w.lo").replace("%", "%%")
        rows = self._cur.execute(
            "WITH hit AS (SELECT DISTINCT b.sid, b.hour "
            f"FROM point_blocks b, {WINDOWS.format('w')} "
            f"WHERE b.sid = w.sid AND b.hour >= {hour} AND b.hour <= w.hi), "
            "old AS (SELECT b.sid, b.hour, u.ts, u.v, EXISTS (SELECT 1 FROM "
            f"{WINDOWS.format('x')} WHERE x.sid = b.sid AND u.ts BETWEEN x.lo AND x.hi)"
            f"{' AND ' + extra if extra else ''} AS gone "
            "FROM hit JOIN point_blocks b USING (sid, hour), unnest(b.ts, b.v) AS u(ts, v)), "
            "touched AS (SELECT sid, hour, count(*) FILTER (WHERE gone) AS n FROM old "
            "GROUP BY sid, hour HAVING bool_or(gone)), "
            f"kept AS (SELECT sid, hour, {BUILD} FROM old WHERE NOT gone "
            "AND (sid, hour) IN (SELECT sid, hour FROM touched) GROUP BY sid, hour), "
            f"{_store('kept')}, "
            "emptied AS (SELECT sid, hour FROM touched EXCEPT SELECT sid, hour FROM kept), "
            "no_block AS (DELETE FROM point_blocks b USING emptied e "
            "WHERE b.sid = e.sid AND b.hour = e.hour), "
            "no_rollup AS (DELETE FROM point_hours r USING emptied e "
            "WHERE r.sid = e.sid AND r.hour = e.hour) "
            "SELECT sid, sum(n) FROM touched GROUP BY sid",
            params * 2,
        ).fetchall()
        for sid, n in rows:
            deleted[int(sid)] = deleted.get(int(sid), 0) + int(n)
        return deleted

    def read_points(
        self,
        sid: int,
        span: TimeRange,
        values: ValueFilter,
        limit: int,
        descending: bool = False,
    ) -> tuple[Micros, Values]:
        start, end = span_bounds(span)
        blocks = [sid, floor_hour(start), end]
        read = f"SELECT ts, v FROM point_blocks WHERE {ONE_SERIES}"
        filtered = values != ValueFilter()
        if filtered:
            ts, v = copy_out_blocks(self._cur, f"{read} ORDER BY hour", blocks)
        else:
            # When the blocks hold more than ``limit`` points, they are read only up to the
            # one before which ``limit`` more are held (every point of a block is in the
            # range but for some of the first one's, which the count leaves aside).
            total = f"(SELECT sum(n) FROM point_hours WHERE {ONE_SERIES})"
            ts, v = copy_out_blocks(
                self._cur, f"{read} AND {total} <= %s ORDER BY hour", [*blocks, *blocks, limit]
            )
            if not len(ts):
                order, op, last = ("DESC", ">=", "min") if descending else ("ASC", "<=", "max")
                upto = f"sum(n) OVER (ORDER BY hour {order} ROWS UNBOUNDED PRECEDING)"
                first = (
                    f"(SELECT n FROM point_hours WHERE {ONE_SERIES} ORDER BY hour {order} LIMIT 1)"
                )
                ts, v = copy_out_blocks(
                    self._cur,
                    f"{read} AND hour {op} (SELECT {last}(hour) FROM (SELECT hour, {upto} - n "
                    f"AS before FROM point_hours WHERE {ONE_SERIES}) AS c "
                    f"WHERE before < %s + {first}) ORDER BY hour",
                    [*blocks, *blocks, limit, *blocks],
                )
        keep = (ts >= start) & (ts < end)
        if filtered:
            keep &= values.keeps(v)
        ts, v = ts[keep], v[keep]
        if descending:
            ts, v = np.ascontiguousarray(ts[::-1]), np.ascontiguousarray(v[::-1])
        return ts[:limit], v[:limit]

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
            # Whole hours from the rollup, the partial ones at the ends from their blocks.
            edges = "sid = %s AND (hour >= %s AND hour < %s OR hour >= %s AND hour < %s)"
            rows = copy_out(
                self._cur,
                f"SELECT {bucket_key(plan, 'hour').replace('%', '%%')} AS key, n, "
                "total, lo, hi FROM point_hours WHERE sid = %s AND hour >= %s AND hour < %s "
                f"UNION ALL SELECT {key}, count(*), sum(v), min(v), max(v) FROM "
                f"({RAW.format(edges)} OFFSET 0) AS raw WHERE ts >= %s AND ts < %s GROUP BY 1",
                [sid, first, after, sid, floor_hour(start), first, after, end, start, end],
                ["key", "n", "total", "lo", "hi"],
                ["int8", "int8", "float8", "float8", "float8"],
            )
            return merge_hours(rows, aggregate)
        result = copy_out(
            self._cur,
            # OFFSET 0 keeps the points a subquery of their own: otherwise the planner works
            # the bucket expression (one CASE arm per DST change) into the unnesting.
            f"SELECT k, a FROM (SELECT {key} AS k, {PG_AGGREGATES[aggregate]} AS a "
            f"FROM ({RAW.format(ONE_SERIES)} OFFSET 0) AS raw WHERE ts >= %s AND ts < %s "
            f"GROUP BY 1) AS buckets {'WHERE ' + having if having else ''} ORDER BY k",
            [sid, floor_hour(start), end, start, end],
            ["k", "a"],
            ["int8", "float8"],
        )
        return result["k"], result["a"]

    def delete_points(self, sid: int, span: TimeRange, values: ValueFilter) -> int:
        start, end = span_bounds(span)
        return self._cut([(sid, start, end - 1)], values).get(sid, 0)

    def point_span(self, sid: int) -> tuple[int, int] | None:
        row = self._cur.execute(
            "SELECT (SELECT ts[1] FROM point_blocks WHERE sid = %s ORDER BY hour LIMIT 1), "
            "(SELECT ts[cardinality(ts)] FROM point_blocks WHERE sid = %s "
            "ORDER BY hour DESC LIMIT 1)",
            [sid, sid],
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
        params: list[object] = [list(sids), floor_hour(start), end, start, end]
        keyset = ""
        if after is not None:
            beyond = "<" if descending else ">"
            keyset = f"AND (ts {beyond} %s OR (ts = %s AND sid {beyond} %s))"
            params += [after[0], after[0], after[1]]
        order = "DESC" if descending else "ASC"
        result = copy_out(
            self._cur,
            "SELECT ts, sid::bigint, v FROM (SELECT sid, unnest(ts) AS ts, unnest(v) AS v "
            "FROM point_blocks WHERE sid = ANY(%s::integer[]) AND hour >= %s AND hour < %s) "
            f"AS p WHERE ts >= %s AND ts < %s {keyset} ORDER BY ts {order}, sid {order} LIMIT %s",
            [*params, limit],
            ["ts", "sid", "v"],
            ["int8", "int8", "float8"],
        )
        return result["ts"], result["sid"], result["v"]

    def count_points_many(self, sids: Sequence[int], span: TimeRange) -> int:
        start, end = span_bounds(span)
        # A block wholly inside the range counts by its length; only the ends are unnested.
        row = self._cur.execute(
            f"SELECT coalesce(sum(CASE WHEN hour >= %s AND hour <= %s - {HOUR} "
            "THEN cardinality(ts) "
            "ELSE (SELECT count(*) FROM unnest(ts) AS u(t) WHERE t >= %s AND t < %s) END), 0) "
            "FROM point_blocks WHERE sid = ANY(%s::integer[]) AND hour >= %s AND hour < %s",
            [start, end, start, end, list(sids), floor_hour(start), end],
        ).fetchone()
        return 0 if row is None else int(row[0])
