"""Dataset rows of the embedded store, mixed into ``EmbeddedSession``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import duckdb

from wattbase.model.datasets import Dataset, DatasetFilter, Format
from wattbase.model.tenancy import DEFAULT_COLLECTION

DATASET_COLUMNS = (
    "uuid, domain, name, format, size, checksum, thing_uuid, tags, created, created_by, "
    "updated, updated_by"
)


def _naive_utc(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None)


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
        created=row[8].replace(tzinfo=UTC),
        created_by=row[9],
        updated=row[10].replace(tzinfo=UTC),
        updated_by=row[11],
    )


class DatasetRows:
    """The dataset part of the storage protocol, over the session's DuckDB cursor."""

    _cur: duckdb.DuckDBPyConnection

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        # Drained at once: DuckDB refuses new work on a cursor with an unread result.
        rows: list[Any] = self._cur.execute(sql, params).fetchall()
        return rows

    def put_dataset(self, dataset: Dataset) -> None:
        self._rows(
            f"INSERT OR REPLACE INTO datasets ({DATASET_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                dataset.uuid,
                dataset.domain,
                dataset.name,
                dataset.format.value,
                dataset.size,
                dataset.checksum,
                dataset.thing_uuid,
                list(dataset.tags),
                _naive_utc(dataset.created),
                dataset.created_by,
                _naive_utc(dataset.updated),
                dataset.updated_by,
            ],
        )

    def get_dataset(self, domain: str, uuid: UUID) -> Dataset | None:
        rows = self._rows(
            f"SELECT {DATASET_COLUMNS} FROM datasets WHERE domain = ? AND uuid = ?", [domain, uuid]
        )
        return _dataset(rows[0]) if rows else None

    def list_datasets(self, domain: str, where: DatasetFilter) -> list[Dataset]:
        clauses, params = ["d.domain = ?"], list[object]([domain])
        if where.tags:
            clauses.append("list_has_all(d.tags, ?)")
            params.append(list(where.tags))
        if where.thing_uuid is not None:
            clauses.append("d.thing_uuid = ?")
            params.append(where.thing_uuid)
        if where.format is not None:
            clauses.append("d.format = ?")
            params.append(where.format.value)
        if where.collections is not None:
            clauses.append("list_contains(?, coalesce(t.collection, ?))")
            params.extend([sorted(where.collections), DEFAULT_COLLECTION])
        columns = ", ".join(f"d.{c.strip()}" for c in DATASET_COLUMNS.split(","))
        rows = self._rows(
            f"SELECT {columns} FROM datasets d "
            "LEFT JOIN things t ON t.uuid = d.thing_uuid AND t.domain = d.domain "
            f"WHERE {' AND '.join(clauses)} ORDER BY d.created, d.uuid LIMIT ? OFFSET ?",
            [*params, where.limit, where.offset],
        )
        return [_dataset(r) for r in rows]

    def delete_dataset(self, domain: str, uuid: UUID) -> None:
        self._rows("DELETE FROM datasets WHERE domain = ? AND uuid = ?", [domain, uuid])

    def checksum_refs(self, checksum: str) -> int:
        rows = self._rows("SELECT count(*) FROM datasets WHERE checksum = ?", [checksum])
        return int(rows[0][0])

    def dataset_checksums(self) -> set[str]:
        return {r[0] for r in self._rows("SELECT DISTINCT checksum FROM datasets")}
