"""The embedded (DuckDB) store's file: opening it, a transaction on one of its cursors, and
its schema, applied in order (each step once)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from wattbase.errors import StoreUnavailable
from wattbase.storage.sql import HOUR


class Transaction:
    # Set by a body whose last statement carried the COMMIT (see flush_appends).
    committed = False


@contextmanager
def transaction(cursor: duckdb.DuckDBPyConnection) -> Iterator[Transaction]:
    """BEGIN, then COMMIT unless the body did, or ROLLBACK when the body raises."""
    cursor.execute("BEGIN TRANSACTION").fetchall()
    tx = Transaction()
    try:
        yield tx
    except BaseException:
        # The body's own COMMIT may be what failed, leaving no transaction to roll back.
        with suppress(duckdb.TransactionException):
            cursor.execute("ROLLBACK").fetchall()
        raise
    if not tx.committed:
        cursor.execute("COMMIT").fetchall()


MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE domains (
        name VARCHAR PRIMARY KEY,
        timezone VARCHAR NOT NULL
    );
    CREATE TABLE api_keys (
        uuid UUID PRIMARY KEY,
        domain VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        secret_hash BLOB NOT NULL,
        scopes VARCHAR[] NOT NULL,
        collections VARCHAR[],
        created TIMESTAMP NOT NULL,
        revoked TIMESTAMP
    );
    CREATE TABLE things (
        uuid UUID PRIMARY KEY,
        domain VARCHAR NOT NULL,
        node_id BIGINT NOT NULL,
        name VARCHAR NOT NULL,
        state VARCHAR NOT NULL,
        type VARCHAR,
        created_by UUID,
        tags VARCHAR[] NOT NULL,
        parent UUID,
        device_id VARCHAR,
        collection VARCHAR NOT NULL,
        created TIMESTAMP NOT NULL
    );
    CREATE SEQUENCE series_sid START 1;
    CREATE TABLE series (
        uuid UUID PRIMARY KEY,
        sid INTEGER NOT NULL,
        domain VARCHAR NOT NULL,
        thing_uuid UUID NOT NULL,
        name VARCHAR NOT NULL,
        si_unit VARCHAR,
        lower_bound DOUBLE,
        upper_bound DOUBLE,
        tags VARCHAR[] NOT NULL,
        point_type VARCHAR,
        created_by UUID,
        created TIMESTAMP NOT NULL
    );
    -- Times are naive UTC. No key or index on points: DuckDB's indexes cost ~20x the
    -- bytes of the data; the write engine keeps timestamps unique under the one writer.
    CREATE TABLE points (
        sid INTEGER NOT NULL,
        ts BIGINT NOT NULL,
        v DOUBLE NOT NULL
    );
    """,
    # 2: server-wide secrets (the token signing key), shared by every process on the store.
    """
    CREATE TABLE server_secrets (
        name VARCHAR PRIMARY KEY,
        value BLOB NOT NULL
    );
    """,
    # 3: datasets. Their bytes are blobs beside the database, addressed by checksum.
    """
    CREATE TABLE datasets (
        uuid UUID PRIMARY KEY,
        domain VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        format VARCHAR NOT NULL,
        size BIGINT NOT NULL,
        checksum VARCHAR NOT NULL,
        thing_uuid UUID,
        tags VARCHAR[] NOT NULL,
        created TIMESTAMP NOT NULL,
        created_by UUID,
        updated TIMESTAMP NOT NULL,
        updated_by UUID
    );
    """,
    # 4: a domain's own request rate (wattbase domain set-rate); NULL: the server's default.
    """
    ALTER TABLE domains ADD COLUMN rate_per_second DOUBLE;
    ALTER TABLE domains ADD COLUMN rate_burst INTEGER;
    """,
    # 5: hourly rollups of the points (see embedded_rollups); the store fills them when idle.
    """
    CREATE TABLE point_hours (
        sid INTEGER NOT NULL,
        hour BIGINT NOT NULL,
        n BIGINT NOT NULL,
        total DOUBLE NOT NULL,
        lo DOUBLE NOT NULL,
        hi DOUBLE NOT NULL
    );
    CREATE TABLE rollup_marks (
        sid INTEGER PRIMARY KEY,
        rolled_to BIGINT NOT NULL
    );
    """,
    # 6: times as whole seconds and the microseconds past them, with ``ts`` computed from
    # them. DuckDB packs each column in groups of 2,048 values as a constant step or as
    # steps of one bit width: the jump back in time where one series ends and the next
    # begins widens a group to 40 bits in microseconds but to 20 in seconds, and the
    # microseconds, nearly always 0, cost nothing. A week of minute data of 1,000 series,
    # written as the benchmark writes it, took 4.2 bytes a point, now 2.5. The copy is
    # sorted, so it starts packed well.
    """
    CREATE TABLE points_by_second (
        sid INTEGER NOT NULL,
        ts_s BIGINT NOT NULL,
        ts_us INTEGER NOT NULL,
        v DOUBLE NOT NULL,
        ts BIGINT GENERATED ALWAYS AS (ts_s * 1000000 + ts_us) VIRTUAL
    );
    INSERT INTO points_by_second (sid, ts_s, ts_us, v)
        SELECT sid, (ts - us) // 1000000, us, v
        FROM (SELECT sid, ts, v, ((ts % 1000000) + 1000000) % 1000000 AS us FROM points)
        ORDER BY sid, ts;
    DROP TABLE points;
    ALTER TABLE points_by_second RENAME TO points;
    """,
    # 7: rollup hours as hour numbers ``h``, with ``hour`` computed from them. Rows of many
    # series lie side by side, and a group of 2,048 hour starts that jumps between them took
    # 40 bits an hour in microseconds; as hour numbers 14 for a year's span. Reads bound
    # ``h`` too, for the zone maps (see ``hours_between``).
    """
    CREATE TABLE point_hours_by_number (
        sid INTEGER NOT NULL,
        h BIGINT NOT NULL,
        n BIGINT NOT NULL,
        total DOUBLE NOT NULL,
        lo DOUBLE NOT NULL,
        hi DOUBLE NOT NULL,
        hour BIGINT GENERATED ALWAYS AS (h * 3600000000) VIRTUAL
    );
    INSERT INTO point_hours_by_number (sid, h, n, total, lo, hi)
        SELECT sid, hour // 3600000000, n, total, lo, hi FROM point_hours ORDER BY sid, hour;
    DROP TABLE point_hours;
    ALTER TABLE point_hours_by_number RENAME TO point_hours;
    """,
)

SECOND = 1_000_000
# The block size of new files: 64 KiB, not DuckDB's 256. On the benchmark's data a file of
# 256 KiB blocks held 3.20 bytes per point, of 128 KiB 2.87, of 64 KiB 2.74: the larger
# blocks are left partly empty. Not smaller: a 32 KiB block cannot hold a group of 2,048
# bit-packed values at full width, so DuckDB stored the times uncompressed (10.8 bytes per
# point). A file keeps the size it was made with; ``compact`` and a restore make new ones.
BLOCK_SIZE = 65_536


def path_literal(path: Path) -> str:
    """``path`` as a SQL string literal, for the statements that take no parameters."""
    return "'" + str(path).replace("'", "''") + "'"


def open_file(path: Path) -> duckdb.DuckDBPyConnection:
    """Open a store file, made with ``BLOCK_SIZE`` blocks if it is new."""
    return duckdb.connect(str(path), config={"default_block_size": str(BLOCK_SIZE)})


def connect_file(path: Path, instead: str) -> duckdb.DuckDBPyConnection:
    """Open the store's file; a clear error while a server holds it (``instead``: what to do)."""
    try:
        return open_file(path)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise StoreUnavailable(
                f"the embedded store {path} is in use by a running wattbase server; "
                f"stop it first, {instead}"
            ) from exc
        raise


def table_counts(db: duckdb.DuckDBPyConnection, database: str | None = None) -> dict[str, int]:
    """The rows of each table of ``database`` (default: the connection's own), by name."""
    if database is None:
        database = str(db.execute("SELECT current_database()").fetchall()[0][0])
    names = db.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? ORDER BY table_name",
        [database],
    ).fetchall()
    return {
        name: int(db.execute(f'SELECT count(*) FROM "{database}".main."{name}"').fetchall()[0][0])
        for (name,) in names
    }


def migrate(db: duckdb.DuckDBPyConnection) -> None:
    """Bring the file ``db`` is connected to up to the last migration."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)"
    ).fetchall()
    row = db.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()
    applied = int(row[0][0])
    for version, script in enumerate(MIGRATIONS, start=1):
        if version <= applied:
            continue
        db.execute("BEGIN TRANSACTION").fetchall()
        db.execute(script).fetchall()
        db.execute("INSERT INTO schema_migrations VALUES (?)", [version]).fetchall()
        db.execute("COMMIT").fetchall()


def seconds_between(first: int, last: int, alias: str = "") -> str:
    """The stored-seconds bound of the instants ``first..last`` (inclusive), for a WHERE.

    DuckDB skips row groups by the zone maps of stored columns only; ``ts`` is computed,
    so every range on it also needs this bound on ``ts_s`` to read less than the table.
    """
    column = f"{alias}.ts_s" if alias else "ts_s"
    return f"{column} BETWEEN {first // SECOND} AND {last // SECOND}"


def hours_between(first: int, last: int, alias: str = "") -> str:
    """The stored hour-number bound of the hour starts ``first..last`` (inclusive), for a
    WHERE on ``point_hours``: like ``ts``, its ``hour`` is computed (see ``seconds_between``)."""
    column = f"{alias}.h" if alias else "h"
    return f"{column} BETWEEN {first // HOUR} AND {last // HOUR}"
