"""The PostgreSQL store: many API processes, on one or several hosts, over one database.

Connections come from a pool (psycopg 3). ``read()`` lends one for a read transaction;
``write()`` lends one for a transaction that first takes the store-wide write lock
(``pg_advisory_xact_lock``), so writers are serialised across every process exactly as the
protocol promises and the embedded store does within one. Reads never wait for it. Blobs
use connections of their own (see ``postgres_blobs``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from wattbase.errors import InvalidRequest, StoreUnavailable
from wattbase.model.tenancy import ApiKey, Domain, Scope
from wattbase.model.things import Series, SeriesFilter, Thing, ThingFilter
from wattbase.storage.base import NotInMemory, Session
from wattbase.storage.blobs import BlobStore
from wattbase.storage.group_commit import GroupCommit
from wattbase.storage.postgres_blobs import PgBlobs
from wattbase.storage.postgres_datasets import DatasetRows
from wattbase.storage.postgres_points import STAGE, PointRows
from wattbase.storage.postgres_schema import WRITE_LOCK, migrate

T = TypeVar("T")

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


def _domain(row: tuple[Any, ...]) -> Domain:
    return Domain(name=row[0], timezone=row[1], rate_per_second=row[2], rate_burst=row[3])


def _upsert(columns: str) -> str:
    names = [c.strip() for c in columns.split(",")]
    return ", ".join(f"{c} = excluded.{c}" for c in names[1:])


def _utc(when: datetime | None) -> datetime | None:
    return None if when is None else when.astimezone(UTC)


def _thing(row: Sequence[Any]) -> Thing:
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
        created=row[11].astimezone(UTC),
    )


def _series(row: Sequence[Any]) -> Series:
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
        created=row[11].astimezone(UTC),
    )


def _key(row: Sequence[Any]) -> ApiKey:
    return ApiKey(
        uuid=row[0],
        domain=row[1],
        name=row[2],
        scopes=frozenset(Scope(s) for s in row[3]),
        collections=None if row[4] is None else frozenset(row[4]),
        created=row[5].astimezone(UTC),
        revoked=_utc(row[6]),
    )


class PostgresSession(PointRows, DatasetRows):
    """One pooled connection's cursor, speaking the storage protocol."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self._cur = cur
        self._staged = False

    def _one(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
        return self._cur.execute(sql, params).fetchone()

    def _all(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._cur.execute(sql, params).fetchall()

    # Tenancy

    def get_domain(self, name: str) -> Domain | None:
        row = self._one(f"SELECT {DOMAIN_COLUMNS} FROM domains WHERE name = %s", [name])
        return None if row is None else _domain(row)

    def put_domain(self, domain: Domain) -> None:
        self._cur.execute(
            f"INSERT INTO domains ({DOMAIN_COLUMNS}) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET timezone = excluded.timezone, "
            "rate_per_second = excluded.rate_per_second, rate_burst = excluded.rate_burst",
            [domain.name, domain.timezone, domain.rate_per_second, domain.rate_burst],
        )

    def list_domains(self) -> list[Domain]:
        rows = self._all(f'SELECT {DOMAIN_COLUMNS} FROM domains ORDER BY name COLLATE "C"')
        return [_domain(r) for r in rows]

    def put_key(self, key: ApiKey, secret_hash: bytes) -> None:
        self._cur.execute(
            f"INSERT INTO api_keys ({KEY_COLUMNS}) "
            "VALUES (%s, %s, %s, %s::text[], %s::text[], %s, %s, %s) "
            f"ON CONFLICT (uuid) DO UPDATE SET {_upsert(KEY_COLUMNS)}",
            [
                key.uuid,
                key.domain,
                key.name,
                sorted(key.scopes),
                None if key.collections is None else sorted(key.collections),
                key.created,
                key.revoked,
                secret_hash,
            ],
        )

    def find_key(self, secret_hash: bytes) -> tuple[ApiKey, bytes] | None:
        row = self._one(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE secret_hash = %s", [secret_hash])
        return None if row is None else (_key(row), bytes(row[7]))

    def list_keys(self, domain: str) -> list[ApiKey]:
        rows = self._all(
            f"SELECT {KEY_COLUMNS} FROM api_keys WHERE domain = %s ORDER BY created, uuid",
            [domain],
        )
        return [_key(r) for r in rows]

    def revoke_key(self, domain: str, uuid: UUID, when: datetime) -> bool:
        row = self._one(
            "UPDATE api_keys SET revoked = %s WHERE domain = %s AND uuid = %s "
            "AND revoked IS NULL RETURNING uuid",
            [when, domain, uuid],
        )
        return row is not None

    # Things

    def next_node_id(self, domain: str) -> int:
        row = self._one(
            "SELECT coalesce(max(node_id), 0) + 1 FROM things WHERE domain = %s", [domain]
        )
        assert row is not None
        return int(row[0])

    def put_thing(self, thing: Thing) -> None:
        self._cur.execute(
            f"INSERT INTO things ({THING_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s::text[], %s, %s, %s, %s) "
            f"ON CONFLICT (uuid) DO UPDATE SET {_upsert(THING_COLUMNS)}",
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
                thing.created,
            ],
        )

    def get_thing(self, domain: str, uuid: UUID) -> Thing | None:
        row = self._one(
            f"SELECT {THING_COLUMNS} FROM things WHERE domain = %s AND uuid = %s", [domain, uuid]
        )
        return None if row is None else _thing(row)

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
        row = self._one(
            f"SELECT {THING_COLUMNS} FROM things WHERE domain = %s AND {column} = %s",
            [domain, value],
        )
        return None if row is None else _thing(row)

    def list_things(self, domain: str, where: ThingFilter) -> list[Thing]:
        clauses, params = ["domain = %s"], list[object]([domain])
        if where.tags:
            clauses.append("tags @> %s::text[]")
            params.append(list(where.tags))
        if where.parent is not None:
            clauses.append("parent = %s")
            params.append(where.parent)
        if where.type is not None:
            clauses.append("type = %s")
            params.append(where.type)
        if where.collections is not None:
            clauses.append("collection = ANY(%s::text[])")
            params.append(sorted(where.collections))
        rows = self._all(
            f"SELECT {THING_COLUMNS} FROM things WHERE {' AND '.join(clauses)} "
            "ORDER BY node_id LIMIT %s OFFSET %s",
            [*params, where.limit, where.offset],
        )
        return [_thing(r) for r in rows]

    def child_uuids(self, domain: str, parents: Sequence[UUID]) -> dict[UUID, list[UUID]]:
        children: dict[UUID, list[UUID]] = {p: [] for p in parents}
        if not parents:
            return children
        rows = self._all(
            "SELECT parent, uuid FROM things WHERE domain = %s AND parent = ANY(%s::uuid[]) "
            "ORDER BY node_id",
            [domain, list(parents)],
        )
        for parent, child in rows:
            children[parent].append(child)
        return children

    def delete_thing(self, domain: str, uuid: UUID) -> None:
        self._cur.execute("DELETE FROM things WHERE domain = %s AND uuid = %s", [domain, uuid])

    # Series

    def next_sid(self) -> int:
        row = self._one("SELECT nextval('series_sid')")
        assert row is not None
        return int(row[0])

    def put_series(self, series: Series) -> None:
        self._cur.execute(
            f"INSERT INTO series ({SERIES_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::text[], %s, %s, %s) "
            f"ON CONFLICT (uuid) DO UPDATE SET {_upsert(SERIES_COLUMNS)}",
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
                series.created,
            ],
        )

    def get_series(self, domain: str, uuid: UUID) -> Series | None:
        row = self._one(
            f"SELECT {SERIES_COLUMNS} FROM series WHERE domain = %s AND uuid = %s", [domain, uuid]
        )
        return None if row is None else _series(row)

    def find_series(self, domain: str, thing_uuid: UUID, name: str) -> Series | None:
        row = self._one(
            f"SELECT {SERIES_COLUMNS} FROM series "
            "WHERE domain = %s AND thing_uuid = %s AND name = %s",
            [domain, thing_uuid, name],
        )
        return None if row is None else _series(row)

    def list_series(self, domain: str, where: SeriesFilter) -> list[Series]:
        clauses, params = ["s.domain = %s"], list[object]([domain])
        if where.tags:
            clauses.append("s.tags @> %s::text[]")
            params.append(list(where.tags))
        if where.thing_uuid is not None:
            clauses.append("s.thing_uuid = %s")
            params.append(where.thing_uuid)
        if where.names:
            clauses.append("s.name = ANY(%s::text[])")
            params.append(list(where.names))
        if where.collections is not None:
            clauses.append("t.collection = ANY(%s::text[])")
            params.append(sorted(where.collections))
        columns = ", ".join(f"s.{c.strip()}" for c in SERIES_COLUMNS.split(","))
        rows = self._all(
            f"SELECT {columns} FROM series s JOIN things t ON t.uuid = s.thing_uuid "
            f"WHERE {' AND '.join(clauses)} ORDER BY s.sid LIMIT %s OFFSET %s",
            [*params, where.limit, where.offset],
        )
        return [_series(r) for r in rows]

    def delete_series(self, domain: str, uuid: UUID) -> None:
        row = self._one("SELECT sid FROM series WHERE domain = %s AND uuid = %s", [domain, uuid])
        if row is None:
            return
        self._cur.execute("DELETE FROM point_blocks WHERE sid = %s", [row[0]])
        self._cur.execute("DELETE FROM point_hours WHERE sid = %s", [row[0]])
        self._cur.execute("DELETE FROM series WHERE uuid = %s", [uuid])

    # Apollo: server secrets and keys by uuid

    def get_secret(self, name: str) -> bytes | None:
        row = self._one("SELECT value FROM server_secrets WHERE name = %s", [name])
        return None if row is None else bytes(row[0])

    def put_secret(self, name: str, value: bytes) -> bytes:
        self._cur.execute(
            "INSERT INTO server_secrets (name, value) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            [name, value],
        )
        stored = self.get_secret(name)
        assert stored is not None
        return stored

    def get_key(self, uuid: UUID) -> ApiKey | None:
        row = self._one(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE uuid = %s", [uuid])
        return None if row is None else _key(row)


def _configure(conn: psycopg.Connection[Any]) -> None:
    # Every pooled connection: UTC for timestamptz, and its own staging table for writes.
    # No JIT: the staging table has no statistics, and compiling for the planner's guess
    # cost more than the whole merge it was meant to speed up (~0.9 s for 3,000 points).
    conn.execute("SET TIME ZONE 'UTC'")
    conn.execute("SET jit = off")
    conn.execute(STAGE)
    conn.commit()


class PostgresStore:
    """The database at ``url``; see the module docstring for the locking rules."""

    def __init__(self, url: str, spool_dir: Path, *, pool_size: int = 10) -> None:
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                migrate(conn)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"cannot reach PostgreSQL: {exc}".strip()) from exc
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            configure=_configure,
            check=ConnectionPool.check_connection,
            open=True,
            name="wattbase",
            timeout=10,
        )
        self._closed = False
        self._close_lock = threading.Lock()
        self._writer = threading.Lock()
        self._grouped = GroupCommit(self.write)
        self.memory_lookups = False
        self.blobs: BlobStore = PgBlobs(self._pool, spool_dir)
        with self.read() as session:
            self.blobs.sweep(session.dataset_checksums())

    @contextmanager
    def _session(self) -> Iterator[tuple[psycopg.Connection[Any], PostgresSession]]:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        try:
            with self._pool.connection() as conn, conn.cursor() as cur:
                yield conn, PostgresSession(cur)
        except PoolTimeout as exc:
            raise StoreUnavailable("no PostgreSQL connection free in time") from exc
        except psycopg.OperationalError as exc:
            # The server went away or restarted: 503, and the pool replaces the connection.
            raise StoreUnavailable(f"PostgreSQL is unavailable: {exc}".strip()) from exc
        except psycopg.DataError as exc:
            # The faces refuse NUL in text (api/text.py); this keeps any other caller from a
            # bare driver error, since PostgreSQL's text cannot hold it.
            if "NUL" not in str(exc):
                raise
            raise InvalidRequest("text must not contain the NUL character (U+0000)") from exc

    @contextmanager
    def read(self) -> Iterator[PostgresSession]:
        with self._session() as (_, session):
            yield session

    def read_from_memory(self) -> AbstractContextManager[PostgresSession]:
        raise NotInMemory("PostgreSQL keeps no points in memory")

    @contextmanager
    def write(self) -> Iterator[PostgresSession]:
        # Writers of this process queue here, not in the database: a queue of waiting
        # writers there would hold every pooled connection and starve the reads.
        with self._writer, self._session() as (conn, session), conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
            yield session

    def write_grouped(self, job: Callable[[Session], T], points: int) -> T:
        return self._grouped.run(job, points)

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._pool.close()
