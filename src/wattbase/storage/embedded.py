"""The embedded store: one DuckDB file, owned by one process.

Reads run on per-thread cursors of the same database; writes go through one writer cursor
behind a lock, one transaction per ``write()`` block. DuckDB runs queries outside the GIL,
so a request can be decoded while the previous one is being written.

Durability is DuckDB's default (``fsync_mode = standard``): every commit fdatasyncs the
write-ahead log before it returns, and a commit too big for the log is checkpointed into
the database file and fsynced (checked with strace; tests/test_crash_safety.py kills the
server to prove it). Other checkpoints run when writes pause, or once a minute under writes
that never pause (``embedded_checkpoints``), so the log may hold up to ``WAL_LIMIT`` of
committed points that a restart replays.
``snapshot`` writes backups (see ``embedded_backup``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast
from uuid import UUID

import duckdb
import numpy as np
import numpy.typing as npt

from wattbase.errors import StoreUnavailable
from wattbase.model.points import Micros, Values
from wattbase.model.query import Aggregate, BucketPlan, TimeRange, ValueFilter
from wattbase.model.tenancy import ApiKey, Domain, Scope
from wattbase.model.things import Series, SeriesFilter, Thing, ThingFilter
from wattbase.storage.base import NotInMemory, Session
from wattbase.storage.blobs import BlobStore, FolderBlobs
from wattbase.storage.embedded_backup import Snapshot, write_snapshot
from wattbase.storage.embedded_cache import MetaCache, SeriesKey, SeriesNames
from wattbase.storage.embedded_checkpoints import WAL_LIMIT, IdleCheckpoints
from wattbase.storage.embedded_datasets import DatasetRows
from wattbase.storage.embedded_point_cache import PointCache
from wattbase.storage.embedded_schema import (
    SECOND,
    connect_file,
    hours_between,
    migrate,
    seconds_between,
    transaction,
)
from wattbase.storage.embedded_sids import SidBlocks
from wattbase.storage.embedded_writes import PointWrites, Tails
from wattbase.storage.group_commit import GroupCommit
from wattbase.storage.rollups import NEEDED, merge_hours, whole_hours
from wattbase.storage.sql import (
    AGGREGATES,
    HOUR,
    MIN_TS,
    floor_to_width,
    hours_fit,
    local_clock,
    span_bounds,
    value_filter,
)

THING_COLUMNS = (
    "uuid, domain, node_id, name, state, type, created_by, tags, parent, device_id, "
    "collection, created"
)
SERIES_COLUMNS = (
    "uuid, sid, domain, thing_uuid, name, si_unit, lower_bound, upper_bound, tags, "
    "point_type, created_by, created"
)
DOMAIN_COLUMNS = "name, timezone, rate_per_second, rate_burst"
KEY_COLUMNS = "uuid, domain, name, scopes, collections, created, revoked, secret_hash"
CALENDAR_UNITS = {"month", "year", "decade", "century", "millennium"}
# The most points a ``read_from_memory`` session answers, over all its reads: cutting,
# formatting and encoding them holds the event loop for up to 2 ms. Larger reads go to a
# thread, which the interpreter interleaves with the other requests every few dozen
# microseconds.
FROM_MEMORY_POINTS = 20_000
T = TypeVar("T")


def _drain(cursor: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> list[Any]:
    rows: list[Any] = cursor.execute(sql, params).fetchall()
    return rows


def _naive_utc(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None)


def _aware(when: datetime | None) -> datetime | None:
    return None if when is None else when.replace(tzinfo=UTC)


def _domain(row: tuple[Any, ...]) -> Domain:
    return Domain(name=row[0], timezone=row[1], rate_per_second=row[2], rate_burst=row[3])


def _thing(row: tuple[Any, ...]) -> Thing:
    return Thing(
        uuid=row[0],
        domain=row[1],
        node_id=row[2],
        name=row[3],
        state=row[4],
        type=row[5],
        created_by=row[6],
        tags=tuple(row[7]),
        parent=row[8],
        device_id=row[9],
        collection=row[10],
        created=row[11].replace(tzinfo=UTC),
    )


def _series(row: tuple[Any, ...]) -> Series:
    return Series(
        uuid=row[0],
        sid=row[1],
        domain=row[2],
        thing_uuid=row[3],
        name=row[4],
        si_unit=row[5],
        lower_bound=row[6],
        upper_bound=row[7],
        tags=tuple(row[8]),
        point_type=row[9],
        created_by=row[10],
        created=row[11].replace(tzinfo=UTC),
    )


def _key(row: tuple[Any, ...]) -> ApiKey:
    return ApiKey(
        uuid=row[0],
        domain=row[1],
        name=row[2],
        scopes=frozenset(Scope(s) for s in row[3]),
        collections=None if row[4] is None else frozenset(row[4]),
        created=row[5].replace(tzinfo=UTC),
        revoked=_aware(row[6]),
    )


def bucket_key(plan: BucketPlan, start: int = MIN_TS, ts: str = "ts") -> tuple[str, str]:
    """What to group by, and how the grouped value ``k`` becomes the bucket key.

    ``start`` is a lower bound of every ``ts`` grouped (the column named ``ts``). When the
    local clock cannot fall before the origin, the bucket's number is a plain integer
    division (about a third less work per point than flooring), multiplied back once per
    bucket.
    """
    local = local_clock(plan, ts)
    if plan.calendar_unit is None:
        lowest = start + min((offset for _, offset in plan.offsets), default=0)
        if start > MIN_TS and lowest >= plan.origin:
            shifted = f"({local} - {plan.origin})" if plan.origin else local
            return f"{shifted} // {plan.width}", f"k * {plan.width} + {plan.origin}"
        return floor_to_width(local, plan.width, plan.origin), "k"
    if plan.calendar_unit not in CALENDAR_UNITS:
        raise ValueError(f"unknown calendar unit {plan.calendar_unit}")
    # DuckDB's date_trunc puts centuries and millennia on years divisible by 100 and 1000,
    # which is the boundary wattbase documents.
    return f"epoch_us(date_trunc('{plan.calendar_unit}', make_timestamp({local})))", "k"


class EmbeddedSession(PointWrites, DatasetRows):
    """One DuckDB cursor, speaking the storage protocol.

    Lookups of domains, keys, things and series go through the store's ``MetaCache`` until
    this session changes one of them (``changed_meta``); from then on it reads its own
    uncommitted rows from DuckDB. A new series only sends series lookups there
    (``added_series``). When it changed or deleted a row (``stale_meta``), the store clears
    the cache on commit; new series alone leave every cached row true.
    """

    def __init__(
        self,
        cursor: duckdb.DuckDBPyConnection,
        meta: MetaCache,
        tails: Tails | None = None,
        names: SeriesNames | None = None,
        marks: dict[int, int] | None = None,
        points: PointCache | None = None,
        *,
        from_memory: bool = False,
        sids: SidBlocks | None = None,
    ) -> None:
        self._cur = cursor
        self._sids = sids
        # Whole series for raw reads: given to read sessions only (see embedded_point_cache).
        self._points = points
        # A session of ``read_from_memory``: its cursor is a ``_NoDatabase``.
        self._from_memory = from_memory
        self._points_answered = 0
        # Committed rollup marks (the store's copy); reads use them instead of the table.
        self._rolled = {} if marks is None else marks
        self.dropped_marks: set[int] = set()
        self._meta = meta
        self._tails = tails
        self._names = names
        self.changed_meta = False
        # A new series was inserted: only series lookups need this session's own rows.
        self.added_series = False
        self.stale_meta = False
        self.pending_tails = {}
        self.defer_appends = False
        self._deferred = []
        self._held = {}
        # For SeriesNames: listings this transaction loaded, and the series it made.
        self.loaded_names: dict[SeriesKey, dict[str, Series]] = {}
        self.added_names: dict[tuple[str, UUID, str], Series] = {}
        self._fresh_sids: set[int] = set()
        self.written_sids: set[int] = set()
        # Series whose points this transaction may have changed, for PointCache.changed.
        self.changed_sids: set[int] = set()

    def _cached(self, key: tuple[object, ...], load: Callable[[], T | None]) -> T | None:
        if self.changed_meta or (self.added_series and key[0] == "series"):
            return load()
        return self._meta.lookup(key, load)

    def _changing(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
        """Run a statement that changes cached metadata."""
        self.changed_meta = self.stale_meta = True
        return self._one(sql, params)

    # DuckDB refuses new work on a cursor until the last result is read to the end, so
    # every statement here drains its result.
    def _run(self, sql: str, params: Sequence[object] = ()) -> None:
        _drain(self._cur, sql, params)

    def _one(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
        rows = _drain(self._cur, sql, params)
        return tuple(rows[0]) if rows else None

    def _all(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return _drain(self._cur, sql, params)

    # Tenancy

    def get_domain(self, name: str) -> Domain | None:
        def load() -> Domain | None:
            row = self._one(f"SELECT {DOMAIN_COLUMNS} FROM domains WHERE name = ?", [name])
            return None if row is None else _domain(row)

        return self._cached(("domain", name), load)

    def put_domain(self, domain: Domain) -> None:
        self._changing(
            f"INSERT OR REPLACE INTO domains ({DOMAIN_COLUMNS}) VALUES (?, ?, ?, ?)",
            [domain.name, domain.timezone, domain.rate_per_second, domain.rate_burst],
        )

    def list_domains(self) -> list[Domain]:
        rows = self._all(f"SELECT {DOMAIN_COLUMNS} FROM domains ORDER BY name")
        return [_domain(r) for r in rows]

    def put_key(self, key: ApiKey, secret_hash: bytes) -> None:
        self._changing(
            f"INSERT OR REPLACE INTO api_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                key.uuid,
                key.domain,
                key.name,
                sorted(key.scopes),
                None if key.collections is None else sorted(key.collections),
                _naive_utc(key.created),
                None if key.revoked is None else _naive_utc(key.revoked),
                secret_hash,
            ],
        )

    def find_key(self, secret_hash: bytes) -> tuple[ApiKey, bytes] | None:
        def load() -> tuple[ApiKey, bytes] | None:
            row = self._one(
                f"SELECT {KEY_COLUMNS} FROM api_keys WHERE secret_hash = ?", [secret_hash]
            )
            return None if row is None else (_key(row), bytes(row[7]))

        return self._cached(("key", secret_hash), load)

    def list_keys(self, domain: str) -> list[ApiKey]:
        rows = self._all(
            f"SELECT {KEY_COLUMNS} FROM api_keys WHERE domain = ? ORDER BY created, uuid", [domain]
        )
        return [_key(r) for r in rows]

    def revoke_key(self, domain: str, uuid: UUID, when: datetime) -> bool:
        row = self._changing(
            "UPDATE api_keys SET revoked = ? WHERE domain = ? AND uuid = ? AND revoked IS NULL "
            "RETURNING uuid",
            [_naive_utc(when), domain, uuid],
        )
        return row is not None

    # Things

    def next_node_id(self, domain: str) -> int:
        row = self._one(
            "SELECT coalesce(max(node_id), 0) + 1 FROM things WHERE domain = ?", [domain]
        )
        assert row is not None
        return int(row[0])

    def put_thing(self, thing: Thing) -> None:
        self._changing(
            f"INSERT OR REPLACE INTO things ({THING_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                thing.uuid,
                thing.domain,
                thing.node_id,
                thing.name,
                thing.state,
                thing.type,
                thing.created_by,
                list(thing.tags),
                thing.parent,
                thing.device_id,
                thing.collection,
                _naive_utc(thing.created),
            ],
        )

    def get_thing(self, domain: str, uuid: UUID) -> Thing | None:
        def load() -> Thing | None:
            row = self._one(
                f"SELECT {THING_COLUMNS} FROM things WHERE domain = ? AND uuid = ?", [domain, uuid]
            )
            return None if row is None else _thing(row)

        return self._cached(("thing", domain, uuid), load)

    def find_thing(
        self, domain: str, *, node_id: int | None = None, device_id: str | None = None
    ) -> Thing | None:
        value: object
        if node_id is not None:
            column, value = "node_id", node_id
        elif device_id is not None:
            column, value = "device_id", device_id
        else:
            return None

        def load() -> Thing | None:
            row = self._one(
                f"SELECT {THING_COLUMNS} FROM things WHERE domain = ? AND {column} = ?",
                [domain, value],
            )
            return None if row is None else _thing(row)

        return self._cached(("thing", domain, column, value), load)

    def list_things(self, domain: str, where: ThingFilter) -> list[Thing]:
        clauses, params = ["domain = ?"], list[object]([domain])
        if where.tags:
            clauses.append("list_has_all(tags, ?)")
            params.append(list(where.tags))
        if where.parent is not None:
            clauses.append("parent = ?")
            params.append(where.parent)
        if where.type is not None:
            clauses.append("type = ?")
            params.append(where.type)
        if where.collections is not None:
            clauses.append("list_contains(?, collection)")
            params.append(sorted(where.collections))
        rows = self._all(
            f"SELECT {THING_COLUMNS} FROM things WHERE {' AND '.join(clauses)} "
            "ORDER BY node_id LIMIT ? OFFSET ?",
            [*params, where.limit, where.offset],
        )
        return [_thing(r) for r in rows]

    def child_uuids(self, domain: str, parents: Sequence[UUID]) -> dict[UUID, list[UUID]]:
        children: dict[UUID, list[UUID]] = {p: [] for p in parents}
        if not parents:
            return children
        rows = self._all(
            "SELECT parent, uuid FROM things WHERE domain = ? AND list_contains(?, parent) "
            "ORDER BY node_id",
            [domain, list(parents)],
        )
        for parent, child in rows:
            children[parent].append(child)
        return children

    def delete_thing(self, domain: str, uuid: UUID) -> None:
        self._changing("DELETE FROM things WHERE domain = ? AND uuid = ?", [domain, uuid])

    # Series

    def next_sid(self) -> int:
        # Only writes make series, and every write session has the store's blocks.
        assert self._sids is not None, "series ids are handed out in write sessions"
        sid = self._sids.take()
        self._fresh_sids.add(sid)
        return sid

    def put_series(self, series: Series) -> None:
        # A series with a sid handed out in this session is new: no cached row describes it,
        # and cached things and domains stay true.
        fresh = series.sid in self._fresh_sids
        self.added_series |= fresh
        # A plain INSERT of a new row skips looking for one to replace.
        (self._run if fresh else self._changing)(
            f"INSERT {'' if fresh else 'OR REPLACE '}INTO series ({SERIES_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                series.uuid,
                series.sid,
                series.domain,
                series.thing_uuid,
                series.name,
                series.si_unit,
                series.lower_bound,
                series.upper_bound,
                list(series.tags),
                series.point_type,
                series.created_by,
                _naive_utc(series.created),
            ],
        )
        if fresh:
            self.added_names[(series.domain, series.thing_uuid, series.name)] = series

    def get_series(self, domain: str, uuid: UUID) -> Series | None:
        def load() -> Series | None:
            row = self._one(
                f"SELECT {SERIES_COLUMNS} FROM series WHERE domain = ? AND uuid = ?",
                [domain, uuid],
            )
            return None if row is None else _series(row)

        return self._cached(("series", domain, uuid), load)

    def find_series(self, domain: str, thing_uuid: UUID, name: str) -> Series | None:
        if self._names is not None and not self.stale_meta:
            return self._find_named(domain, thing_uuid, name)

        def load() -> Series | None:
            row = self._one(
                f"SELECT {SERIES_COLUMNS} FROM series "
                "WHERE domain = ? AND thing_uuid = ? AND name = ?",
                [domain, thing_uuid, name],
            )
            return None if row is None else _series(row)

        return self._cached(("series", domain, thing_uuid, name), load)

    def _find_named(self, domain: str, thing_uuid: UUID, name: str) -> Series | None:
        """The writer's answer from whole listings (see SeriesNames), misses included."""
        assert self._names is not None
        added = self.added_names.get((domain, thing_uuid, name))
        if added is not None:
            return added
        key = (domain, thing_uuid)
        listing = self.loaded_names.get(key)
        if listing is None:
            listing = self._names.known.get(key)
        if listing is None:
            rows = self._all(
                f"SELECT {SERIES_COLUMNS} FROM series WHERE domain = ? AND thing_uuid = ?",
                [domain, thing_uuid],
            )
            listing = self.loaded_names[key] = {row[4]: _series(row) for row in rows}
        return listing.get(name)

    def list_series(self, domain: str, where: SeriesFilter) -> list[Series]:
        clauses, params = ["s.domain = ?"], list[object]([domain])
        if where.tags:
            clauses.append("list_has_all(s.tags, ?)")
            params.append(list(where.tags))
        if where.thing_uuid is not None:
            clauses.append("s.thing_uuid = ?")
            params.append(where.thing_uuid)
        if where.names:
            clauses.append("list_contains(?, s.name)")
            params.append(list(where.names))
        if where.collections is not None:
            clauses.append("list_contains(?, t.collection)")
            params.append(sorted(where.collections))
        columns = ", ".join(f"s.{c.strip()}" for c in SERIES_COLUMNS.split(","))
        rows = self._all(
            f"SELECT {columns} FROM series s JOIN things t ON t.uuid = s.thing_uuid "
            f"WHERE {' AND '.join(clauses)} ORDER BY s.sid LIMIT ? OFFSET ?",
            [*params, where.limit, where.offset],
        )
        return [_series(r) for r in rows]

    def delete_series(self, domain: str, uuid: UUID) -> None:
        self.flush_appends()
        row = self._one("SELECT sid FROM series WHERE domain = ? AND uuid = ?", [domain, uuid])
        if row is None:
            return
        self.changed_sids.add(int(row[0]))
        self._run("DELETE FROM points WHERE sid = ?", [row[0]])
        self._drop_hours(row[0])
        self._changing("DELETE FROM series WHERE uuid = ?", [uuid])

    # Points

    def read_points(
        self,
        sid: int,
        span: TimeRange,
        values: ValueFilter,
        limit: int,
        descending: bool = False,
    ) -> tuple[Micros, Values]:
        self.flush_appends()
        start, end = span_bounds(span)
        whole = self._whole_series(sid)
        if whole is not None:
            cut = _cut(whole, (start, end), values, limit, descending)
            if self._from_memory:
                self._points_answered += len(cut[0])
                if self._points_answered > FROM_MEMORY_POINTS:
                    raise NotInMemory(f"{self._points_answered} points, too many at once")
            return cut
        clauses, params = ["sid = ?", seconds_between(start, end - 1)], list[object]([sid])
        # The bound on whole seconds is exact at an end that falls on a second; only an end
        # inside a second needs the computed ``ts``, which costs DuckDB a third more time.
        if start % SECOND:
            clauses.append("ts >= ?")
            params.append(start)
        if end % SECOND:
            clauses.append("ts < ?")
            params.append(end)
        extra = value_filter(values)
        if extra:
            clauses.append(extra)
        where = f"FROM points WHERE {' AND '.join(clauses)}"
        # Most reads fit under the limit, and a series is mostly stored in time order: fetching
        # unordered and sorting in numpy (if at all) costs half of DuckDB's ORDER BY ... LIMIT.
        # Only when the limit cut the answer short does the ordered query have to run.
        found = self._cur.execute(f"SELECT ts_s, ts_us, v {where} LIMIT ?", [*params, limit])
        ts, v = _stored(found.fetchnumpy())
        if len(ts) < limit:
            if len(ts) > 1 and not bool((ts[1:] > ts[:-1]).all()):
                order = np.argsort(ts)
                ts, v = ts[order], v[order]
            return (ts[::-1].copy(), v[::-1].copy()) if descending else (ts, v)
        result = self._cur.execute(
            f"SELECT ts, v {where} ORDER BY ts {'DESC' if descending else 'ASC'} LIMIT ?",
            [*params, limit],
        )
        return _columns(result.fetchnumpy(), "ts", "v")

    def _whole_series(self, sid: int) -> tuple[Micros, Values] | None:
        """``sid``'s points from the point cache, loaded into it on a second miss."""
        cache = self._points
        if cache is None:
            return None
        found = cache.get(sid)
        if found is None and self._from_memory:
            # Before ``wanted``: the read that follows in a thread counts the miss.
            raise NotInMemory(f"series {sid}")
        if found is not None or not cache.wanted(sid):
            return found
        generation = cache.generation(sid)
        ts, v = _stored(
            self._cur.execute(
                "SELECT ts_s, ts_us, v FROM points WHERE sid = ? LIMIT ?", [sid, cache.most + 1]
            ).fetchnumpy()
        )
        if len(ts) > cache.most:
            cache.too_large(sid)
            return None
        order = np.argsort(ts, kind="stable")
        found = ts[order], v[order]
        cache.offer(sid, generation, *found)
        return found

    def aggregate_points(
        self,
        sid: int,
        span: TimeRange,
        plan: BucketPlan,
        aggregate: Aggregate,
        values: ValueFilter,
    ) -> tuple[Micros, Values]:
        self.flush_appends()
        start, end = span_bounds(span)
        having = value_filter(values, column="a")
        group, key = bucket_key(plan, start)
        # Whole hours inside the span that are rolled up are read from the rollup.
        first, after = whole_hours(start, end)
        if hours_fit(plan, values) and first < after:
            hours = bucket_key(plan, start, "hour")
            return self._aggregate_hours(
                sid, (start, end, first, after), (group, key), hours, aggregate
            )
        # The key is increasing in k, so ordering by either orders the buckets.
        result = self._cur.execute(
            f"SELECT {key} AS key, a FROM (SELECT {group} AS k, {AGGREGATES[aggregate]} AS a "
            f"FROM points WHERE sid = ? AND {seconds_between(start, end - 1)} "
            "AND ts >= ? AND ts < ? GROUP BY k) "
            f"{'WHERE ' + having if having else ''} ORDER BY k",
            [sid, start, end],
        ).fetchnumpy()
        return _columns(result, "key", "a")

    def _aggregate_hours(
        self,
        sid: int,
        bounds: tuple[int, int, int, int],
        points_key: tuple[str, str],
        hours_key: tuple[str, str],
        aggregate: Aggregate,
    ) -> tuple[Micros, Values]:
        """Buckets from the rolled hours in ``[first, after)`` and the points around them,
        grouped by ``bucket_key`` over ``ts`` and over ``hour``."""
        start, end, first, after = bounds
        group, key = points_key
        hour_group, hour_key = hours_key
        # The mark as a constant lets DuckDB skip the rolled points by their zone maps. The
        # store publishes a mark after its roll commits, so a mark read here is never ahead
        # of the rows; an older one only means more points to group.
        mark = self._rolled.get(sid)
        rolled = first if mark is None else max(first, min(after, mark))
        # A year of hours is 8,760 rows: they are merged into buckets in numpy, which costs
        # less than a hash aggregate in DuckDB. So are the points of the partial hours at
        # the ends; only a longer stretch not rolled up yet is grouped by DuckDB first.
        ranges = [(lo, hi) for lo, hi in ((start, first), (rolled, end)) if lo < hi]
        edges = " OR ".join(
            f"({seconds_between(lo, hi - 1)} AND ts >= {lo} AND ts < {hi})" for lo, hi in ranges
        )
        # Only the columns the aggregate is merged from: each one fetched costs a copy.
        needed = NEEDED[aggregate]
        columns = ", ".join(needed)
        if not ranges:
            points = ""
        elif sum(hi - lo for lo, hi in ranges) <= 2 * HOUR:
            of_one = {"n": "1 AS n", "total": "v AS total", "lo": "v AS lo", "hi": "v AS hi"}
            points = (
                f" UNION ALL SELECT {key} AS key, {', '.join(of_one[c] for c in needed)} "
                f"FROM (SELECT {group} AS k, v FROM points WHERE sid = $sid AND ({edges}))"
            )
        else:
            grouped = {"n": "count(*)", "total": "sum(v)", "lo": "min(v)", "hi": "max(v)"}
            points = (
                f" UNION ALL SELECT {key} AS key, {columns} FROM (SELECT {group} AS k, "
                f"{', '.join(f'{grouped[c]} AS {c}' for c in needed)} FROM points "
                f"WHERE sid = $sid AND ({edges}) GROUP BY k)"
            )
        rows = self._cur.execute(
            f"SELECT {hour_key} AS key, {columns} FROM (SELECT {hour_group} AS k, {columns} "
            f"FROM point_hours WHERE sid = $sid AND {hours_between(first, rolled - 1)})"
            f"{points}",
            {"sid": sid},
        ).fetchnumpy()
        return merge_hours(rows, aggregate)

    def delete_points(self, sid: int, span: TimeRange, values: ValueFilter) -> int:
        self.flush_appends()
        self.changed_sids.add(sid)
        start, end = span_bounds(span)
        extra = value_filter(values)
        row = self._one(
            f"DELETE FROM points WHERE sid = ? AND {seconds_between(start, end - 1)} "
            "AND ts >= ? AND ts < ? "
            f"{'AND ' + extra if extra else ''}",
            [sid, start, end],
        )
        deleted = 0 if row is None else int(row[0])
        if deleted:
            self._redo_hours([(sid, start, end - 1)])
        return deleted

    def point_span(self, sid: int) -> tuple[int, int] | None:
        self.flush_appends()
        row = self._one("SELECT min(ts), max(ts) FROM points WHERE sid = ?", [sid])
        if row is None or row[0] is None:
            return None
        return int(row[0]), int(row[1])

    # Apollo: server secrets, keys by uuid, and reads over several series at once (issue 5)

    def get_secret(self, name: str) -> bytes | None:
        def load() -> bytes | None:
            row = self._one("SELECT value FROM server_secrets WHERE name = ?", [name])
            return None if row is None else bytes(row[0])

        return self._cached(("secret", name), load)

    def put_secret(self, name: str, value: bytes) -> bytes:
        self._changing("INSERT OR IGNORE INTO server_secrets VALUES (?, ?)", [name, value])
        stored = self.get_secret(name)
        assert stored is not None
        return stored

    def get_key(self, uuid: UUID) -> ApiKey | None:
        def load() -> ApiKey | None:
            row = self._one(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE uuid = ?", [uuid])
            return None if row is None else _key(row)

        return self._cached(("key", uuid), load)

    def read_points_many(
        self,
        sids: Sequence[int],
        span: TimeRange,
        limit: int,
        descending: bool = False,
        after: tuple[int, int] | None = None,
    ) -> tuple[Micros, npt.NDArray[np.int64], Values]:
        self.flush_appends()
        start, end = span_bounds(span)
        params: list[object] = [list(sids), start, end]
        keyset = ""
        if after is not None:
            beyond = "<" if descending else ">"
            keyset = f"AND (ts {beyond} ? OR (ts = ? AND sid {beyond} ?))"
            params += [after[0], after[0], after[1]]
        order = "DESC" if descending else "ASC"
        result = self._cur.execute(
            "SELECT ts, sid, v FROM points WHERE list_contains(?, sid) "
            f"AND {seconds_between(start, end - 1)} AND ts >= ? AND ts < ? "
            f"{keyset} ORDER BY ts {order}, sid {order} LIMIT ?",
            [*params, limit],
        ).fetchnumpy()
        ts, v = _columns(result, "ts", "v")
        return ts, np.asarray(result["sid"], dtype=np.int64), v

    def count_points_many(self, sids: Sequence[int], span: TimeRange) -> int:
        self.flush_appends()
        start, end = span_bounds(span)
        row = self._one(
            "SELECT count(*) FROM points WHERE list_contains(?, sid) "
            f"AND {seconds_between(start, end - 1)} AND ts >= ? AND ts < ?",
            [list(sids), start, end],
        )
        return 0 if row is None else int(row[0])


def _cut(
    whole: tuple[Micros, Values],
    bounds: tuple[int, int],
    values: ValueFilter,
    limit: int,
    descending: bool,
) -> tuple[Micros, Values]:
    """What ``read_points`` answers for ``[start, end)``, from a series' sorted points."""
    ts, v = whole
    first, after = np.searchsorted(ts, bounds)
    ts, v = ts[first:after], v[first:after]
    if values.ge is not None or values.le is not None:
        keep = values.keeps(v)
        ts, v = ts[keep], v[keep]
    if descending:
        ts, v = ts[::-1], v[::-1]
    # Views of the cached arrays, read-only as they are: a caller cannot change what the next
    # read answers, and the API writes the JSON of such views once (``formatted_points``).
    return ts[:limit], v[:limit]


def _stored(result: dict[str, Any]) -> tuple[Micros, Values]:
    """Times and values from fetched ``ts_s, ts_us, v``: the stored columns, cheaper to
    fetch than the computed ``ts``."""
    ts = np.asarray(result["ts_s"], dtype=np.int64) * SECOND + result["ts_us"]
    return ts, np.asarray(result["v"], dtype=np.float64)


def _columns(result: dict[str, Any], keys: str, values: str) -> tuple[Micros, Values]:
    return (
        np.asarray(result[keys], dtype=np.int64),
        np.asarray(result[values], dtype=np.float64),
    )


class _NoDatabase:
    """The cursor of a ``read_from_memory`` session: using it at all means the answer is not
    in memory."""

    def __getattr__(self, name: str) -> NoReturn:
        raise NotInMemory(f"the database ({name})")


class EmbeddedStore:
    """The DuckDB file at ``path``; see the module docstring for the threading rules."""

    def __init__(self, path: Path, cache_points: int = 0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = connect_file(path, "or make this change through the HTTP API")
        self._lock = threading.Lock()
        self._cursor_lock = threading.Lock()
        self._closed = False
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._local = threading.local()
        self._meta = MetaCache()
        self._tails = Tails()
        # Series written since their hours were last rolled up.
        self._unrolled: set[int] = set()
        # Each series' rollup mark as committed: written only under the write lock.
        self._marks: dict[int, int] = {}
        self._names = SeriesNames()
        self._points = PointCache(cache_points)
        self._grouped = GroupCommit(self._group_write)
        migrate(self._db)
        _drain(self._db, f"SET checkpoint_threshold = '{WAL_LIMIT}'")
        self._writer = self._db.cursor()
        self._sids = SidBlocks(self._db)
        # Stored points may lie past their marks (an earlier run, or a version without
        # rollups): the first roll-up looks at every series.
        self._roll_all = bool(_drain(self._writer, "SELECT 1 FROM points LIMIT 1"))
        self._marks.update(_drain(self._writer, "SELECT sid, rolled_to FROM rollup_marks"))
        self.checkpoints = IdleCheckpoints(self._checkpoint)
        self.memory_lookups = True
        # Dataset content lives beside the database file. Nothing else runs yet, so what an
        # interrupted upload left behind (and blobs no row refers to) can go now.
        self.blobs: BlobStore = FolderBlobs(path.parent / "blobs")
        with self.read() as session:
            self.blobs.sweep(session.dataset_checksums())
        if self._roll_all:
            self.checkpoints.wrote()  # so the roll-up runs a second from now, writes or none
        self.checkpoints.start()

    def _reader(self) -> duckdb.DuckDBPyConnection:
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            if self._closed:
                raise StoreUnavailable("the store is closed")
            cursor = self._db.cursor()
            self._local.cursor = cursor
            with self._cursor_lock:
                self._cursors.append(cursor)
        return cursor

    @contextmanager
    def read(self) -> Iterator[EmbeddedSession]:
        yield EmbeddedSession(self._reader(), self._meta, marks=self._marks, points=self._points)

    @contextmanager
    def read_from_memory(self) -> Iterator[EmbeddedSession]:
        # Lookups hit the MetaCache and raw reads the point cache; anything else asks the
        # cursor, which refuses.
        cursor = cast(duckdb.DuckDBPyConnection, _NoDatabase())
        yield EmbeddedSession(
            cursor, self._meta, marks=self._marks, points=self._points, from_memory=True
        )

    @contextmanager
    def write(self) -> Iterator[EmbeddedSession]:
        with self._lock:
            if self._closed:
                raise StoreUnavailable("the store is closed")
            cur = self._writer
            session = EmbeddedSession(
                cur, self._meta, self._tails, self._names, self._marks, sids=self._sids
            )
            try:
                with transaction(cur) as tx:
                    yield session
                    tx.committed = session.flush_appends(commit=True)
            finally:
                # After the commit (or the rollback), before the write is answered.
                self._points.changed(session.changed_sids)
            self.checkpoints.wrote()
            self._tails.commit(session.pending_tails)
            self._unrolled |= session.written_sids
            for sid in session.dropped_marks:
                self._marks.pop(sid, None)
            self._names.commit(session.loaded_names, session.added_names, stale=session.stale_meta)
            if session.stale_meta:
                self._meta.clear()

    @contextmanager
    def _group_write(self) -> Iterator[EmbeddedSession]:
        # A group's jobs only write points: their appends can wait for one INSERT.
        with self.write() as session:
            session.defer_appends = True
            yield session

    def write_grouped(self, job: Callable[[Session], T], points: int) -> T:
        return self._grouped.run(job, points)

    def roll_hours(self) -> int:
        """Bring the hourly rollups up to every series' last hour; series rolled."""
        with self._lock:
            if self._closed or not (self._roll_all or self._unrolled):
                return 0
            sids = None if self._roll_all else sorted(self._unrolled)
            cur = self._writer
            with transaction(cur):
                marks = EmbeddedSession(cur, self._meta).roll_hours(sids)
            self._marks.update(marks)
            self._unrolled.clear()
            self._roll_all = False
            return len(marks)

    def _checkpoint(self) -> None:
        # Writes paused: roll up what they wrote, so the checkpoint saves it compressed too.
        self.roll_hours()
        # Under the write lock: no write transaction is open while DuckDB checkpoints.
        with self._lock:
            if not self._closed:
                _drain(self._writer, "CHECKPOINT")

    def snapshot(self, target: Path) -> Snapshot:
        # Holding the write lock keeps blobs and rows in step: an upload commits its blob
        # and its row under this lock. Reads go on; writes wait for the export.
        with self._lock:
            if self._closed:
                raise StoreUnavailable("the store is closed")
            cursor = self._db.cursor()
            try:
                checksums = EmbeddedSession(cursor, self._meta).dataset_checksums()
                return write_snapshot(cursor, self.path.parent / "blobs", checksums, target)
            finally:
                cursor.close()

    def close(self) -> None:
        self.checkpoints.stop()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for cursor in [*self._cursors, self._writer]:
                cursor.close()
            self._sids.close()
            _drain(self._db, "CHECKPOINT")
            self._db.close()
