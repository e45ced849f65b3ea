"""Schema of the PostgreSQL store, applied in order; each step runs once, in a transaction.

Several API processes may start together against one database, so ``migrate`` holds a
session advisory lock while it reads ``schema_migrations`` and applies what is missing: the
second process waits, then finds nothing left to do.
"""

from __future__ import annotations

import psycopg

# Advisory lock keys (any bigint unique to wattbase): migrations and the one writer.
MIGRATION_LOCK = 0x77617474_0001
WRITE_LOCK = 0x77617474_0002

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE domains (
        name text PRIMARY KEY,
        timezone text NOT NULL
    );
    CREATE TABLE api_keys (
        uuid uuid PRIMARY KEY,
        domain text NOT NULL,
        name text NOT NULL,
        secret_hash bytea NOT NULL,
        scopes text[] NOT NULL,
        collections text[],
        created timestamptz NOT NULL,
        revoked timestamptz
    );
    CREATE INDEX api_keys_secret ON api_keys (secret_hash);
    CREATE INDEX api_keys_domain ON api_keys (domain, created);
    CREATE TABLE things (
        uuid uuid PRIMARY KEY,
        domain text NOT NULL,
        node_id bigint NOT NULL,
        name text NOT NULL,
        state text NOT NULL,
        type text,
        created_by uuid,
        tags text[] NOT NULL,
        parent uuid,
        device_id text,
        collection text NOT NULL,
        created timestamptz NOT NULL
    );
    CREATE INDEX things_node ON things (domain, node_id);
    CREATE INDEX things_parent ON things (domain, parent);
    CREATE SEQUENCE series_sid START 1;
    CREATE TABLE series (
        uuid uuid PRIMARY KEY,
        sid integer NOT NULL UNIQUE,
        domain text NOT NULL,
        thing_uuid uuid NOT NULL,
        name text NOT NULL,
        si_unit text,
        lower_bound double precision,
        upper_bound double precision,
        tags text[] NOT NULL,
        point_type text,
        created_by uuid,
        created timestamptz NOT NULL
    );
    -- Not on name: names have no length limit, and a btree refuses entries over ~2.7 kB.
    CREATE INDEX series_thing ON series (thing_uuid);
    -- Times are UTC microseconds, as in the embedded store, so bucket arithmetic is the
    -- same integer SQL on both. Monthly range partitions are created on demand by the
    -- writer; with TimescaleDB installed in the database the table is a hypertable instead.
    DO $$
    BEGIN
        IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
            CREATE TABLE points (
                sid integer NOT NULL,
                ts bigint NOT NULL,
                v double precision NOT NULL,
                PRIMARY KEY (sid, ts)
            );
            -- 30 days of microseconds per chunk.
            PERFORM create_hypertable('points', 'ts', chunk_time_interval => 2592000000000);
        ELSE
            CREATE TABLE points (
                sid integer NOT NULL,
                ts bigint NOT NULL,
                v double precision NOT NULL,
                PRIMARY KEY (sid, ts)
            ) PARTITION BY RANGE (ts);
            -- Months of 2000-2099 get partitions of their own; the rest share two, so a
            -- sparse batch over centuries cannot create thousands of tables.
            CREATE TABLE points_before PARTITION OF points
                FOR VALUES FROM (MINVALUE) TO (946684800000000);
            CREATE TABLE points_after PARTITION OF points
                FOR VALUES FROM (4102444800000000) TO (MAXVALUE);
        END IF;
    END
    $$;
    CREATE TABLE server_secrets (
        name text PRIMARY KEY,
        value bytea NOT NULL
    );
    CREATE TABLE datasets (
        uuid uuid PRIMARY KEY,
        domain text NOT NULL,
        name text NOT NULL,
        format text NOT NULL,
        size bigint NOT NULL,
        checksum text NOT NULL,
        thing_uuid uuid,
        tags text[] NOT NULL,
        created timestamptz NOT NULL,
        created_by uuid,
        updated timestamptz NOT NULL,
        updated_by uuid
    );
    CREATE INDEX datasets_domain ON datasets (domain, created, uuid);
    CREATE INDEX datasets_checksum ON datasets (checksum);
    -- Dataset bytes, shared by every API process on the database: one row per blob,
    -- its content in chunks.
    CREATE TABLE blobs (
        checksum text PRIMARY KEY,
        size bigint NOT NULL,
        created timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE blob_chunks (
        checksum text NOT NULL REFERENCES blobs ON DELETE CASCADE,
        seq integer NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (checksum, seq)
    );
    """,
    # 2: a domain's own request rate (wattbase domain set-rate); NULL: the server's default.
    """
    ALTER TABLE domains ADD COLUMN rate_per_second double precision;
    ALTER TABLE domains ADD COLUMN rate_burst integer;
    """,
    # 3: hourly rollups of the points (see postgres_rollups), filled from what is stored.
    """
    CREATE TABLE point_hours (
        sid integer NOT NULL,
        hour bigint NOT NULL,
        n bigint NOT NULL,
        total double precision NOT NULL,
        lo double precision NOT NULL,
        hi double precision NOT NULL,
        PRIMARY KEY (sid, hour)
    );
    INSERT INTO point_hours
        SELECT sid, ts - ((ts % 3600000000) + 3600000000) % 3600000000 AS hour,
               count(*), sum(v), min(v), max(v)
        FROM points GROUP BY 1, 2;
    """,
    # 4: points in blocks, one row per series and UTC hour (see postgres_points): a row per
    # point cost 95 bytes with its key, a block of minute values about 20 per point. The
    # rollup (point_hours) stays as it is; a view by the old name keeps ad-hoc SQL working.
    """
    CREATE TABLE point_blocks (
        sid integer NOT NULL,
        hour bigint NOT NULL,
        ts bigint[] NOT NULL,
        v double precision[] NOT NULL,
        PRIMARY KEY (sid, hour)
    );
    INSERT INTO point_blocks (sid, hour, ts, v)
        SELECT sid, hour, array_agg(ts ORDER BY ts), array_agg(v ORDER BY ts)
        FROM (SELECT sid, ts - ((ts % 3600000000) + 3600000000) % 3600000000 AS hour, ts, v
              FROM points) AS p
        GROUP BY sid, hour;
    DROP TABLE points;
    CREATE VIEW points AS
        SELECT b.sid, u.ts, u.v FROM point_blocks b, unnest(b.ts, b.v) AS u(ts, v);
    """,
)


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """Apply the missing migrations on an autocommit connection; how many were applied."""
    conn.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        current = int(row[0]) if row else 0  # type: ignore[call-overload]
        applied = 0
        for version, script in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            with conn.transaction():
                conn.execute(script)
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", [version])
            applied += 1
        return applied
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])
