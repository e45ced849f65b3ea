"""Schema of the embedded (DuckDB) store, applied in order; each step runs once."""

from __future__ import annotations

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
)
