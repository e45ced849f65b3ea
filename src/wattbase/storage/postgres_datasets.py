"""Dataset rows of the PostgreSQL store, mixed into ``PostgresSession``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any
from uuid import UUID

import psycopg

from wattbase.model.datasets import Dataset, DatasetFilter, Format
from wattbase.model.tenancy import DEFAULT_COLLECTION

DATASET_COLUMNS = (
    "uuid, domain, name, format, size, checksum, thing_uuid, tags, created, created_by, "
    "updated, updated_by"
)
UPSERT = ", ".join(f"{c.strip()} = excluded.{c.strip()}" for c in DATASET_COLUMNS.split(",")[1:])


def _dataset(row: Sequence[Any]) -> Dataset:
    return Dataset(
        uuid=row[0],
        domain=row[1],
        name=row[2],
        format=Format(row[3]),
        size=int(row[4]),
        checksum=row[5],
        thing_uuid=row[6],
        tags=tuple(row[7]),
        created=row[8].astimezone(UTC),
        created_by=row[9],
        updated=row[10].astimezone(UTC),
        updated_by=row[11],
    )


class DatasetRows:
    """The dataset part of the storage protocol, over the session's psycopg cursor."""

    _cur: psycopg.Cursor[Any]

    def put_dataset(self, dataset: Dataset) -> None:
        self._cur.execute(
            f"INSERT INTO datasets ({DATASET_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s::text[], %s, %s, %s, %s) "
            f"ON CONFLICT (uuid) DO UPDATE SET {UPSERT}",
            [
                dataset.uuid,
                dataset.domain,
                dataset.name,
                dataset.format.value,
                dataset.size,
                dataset.checksum,
                dataset.thing_uuid,
                list(dataset.tags),
                dataset.created,
                dataset.created_by,
                dataset.updated,
                dataset.updated_by,
            ],
        )

    def get_dataset(self, domain: str, uuid: UUID) -> Dataset | None:
        row = self._cur.execute(
            f"SELECT {DATASET_COLUMNS} FROM datasets WHERE domain = %s AND uuid = %s",
            [domain, uuid],
        ).fetchone()
        return None if row is None else _dataset(row)

    def list_datasets(self, domain: str, where: DatasetFilter) -> list[Dataset]:
        clauses, params = ["d.domain = %s"], list[object]([domain])
        if where.tags:
            clauses.append("d.tags @> %s::text[]")
            params.append(list(where.tags))
        if where.thing_uuid is not None:
            clauses.append("d.thing_uuid = %s")
            params.append(where.thing_uuid)
        if where.format is not None:
            clauses.append("d.format = %s")
            params.append(where.format.value)
        if where.collections is not None:
            clauses.append("coalesce(t.collection, %s) = ANY(%s::text[])")
            params.extend([DEFAULT_COLLECTION, sorted(where.collections)])
        columns = ", ".join(f"d.{c.strip()}" for c in DATASET_COLUMNS.split(","))
        rows = self._cur.execute(
            f"SELECT {columns} FROM datasets d "
            "LEFT JOIN things t ON t.uuid = d.thing_uuid AND t.domain = d.domain "
            f"WHERE {' AND '.join(clauses)} ORDER BY d.created, d.uuid LIMIT %s OFFSET %s",
            [*params, where.limit, where.offset],
        ).fetchall()
        return [_dataset(r) for r in rows]

    def delete_dataset(self, domain: str, uuid: UUID) -> None:
        self._cur.execute("DELETE FROM datasets WHERE domain = %s AND uuid = %s", [domain, uuid])

    def checksum_refs(self, checksum: str) -> int:
        row = self._cur.execute(
            "SELECT count(*) FROM datasets WHERE checksum = %s", [checksum]
        ).fetchone()
        return 0 if row is None else int(row[0])

    def dataset_checksums(self) -> set[str]:
        rows = self._cur.execute("SELECT DISTINCT checksum FROM datasets").fetchall()
        return {r[0] for r in rows}
