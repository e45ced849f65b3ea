"""The storage contract every backend implements.

A ``Store`` hands out ``Session`` objects. ``read()`` gives a session for reads only;
``write()`` gives one transaction: everything done in it commits together when the block
ends, or not at all when it raises. Writes are serialised by the store, so a session in
``write()`` may read, decide and write without racing another writer of the same process
(backends shared by several processes must also make that true across processes).

Sessions speak in model objects and numpy columns. They never see HTTP, scopes or
collections: the core decides who may see what and asks the store for exactly that.
Timestamps are UTC microseconds (int64), values float64.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable
from uuid import UUID

import numpy as np
import numpy.typing as npt

from wattbase.model.datasets import Dataset, DatasetFilter
from wattbase.model.points import Micros, PointCounts, SeriesPoints, Values, WriteMode
from wattbase.model.query import Aggregate, BucketPlan, TimeRange, ValueFilter
from wattbase.model.tenancy import ApiKey, Domain
from wattbase.model.things import Series, SeriesFilter, Thing, ThingFilter
from wattbase.storage.blobs import BlobStore

if TYPE_CHECKING:
    from wattbase.storage.embedded_backup import Snapshot

T = TypeVar("T")


class NotInMemory(Exception):
    """A session of ``Store.read_from_memory`` was asked for what only the database holds."""


class Session(Protocol):
    # Tenancy
    def get_domain(self, name: str) -> Domain | None: ...
    def put_domain(self, domain: Domain) -> None: ...
    def list_domains(self) -> list[Domain]: ...
    def put_key(self, key: ApiKey, secret_hash: bytes) -> None: ...
    def find_key(self, secret_hash: bytes) -> tuple[ApiKey, bytes] | None: ...
    def list_keys(self, domain: str) -> list[ApiKey]: ...
    def revoke_key(self, domain: str, uuid: UUID, when: datetime) -> bool: ...

    # Things
    def next_node_id(self, domain: str) -> int: ...
    def put_thing(self, thing: Thing) -> None: ...
    def get_thing(self, domain: str, uuid: UUID) -> Thing | None: ...
    def find_thing(
        self, domain: str, *, node_id: int | None = None, device_id: str | None = None
    ) -> Thing | None: ...
    def list_things(self, domain: str, where: ThingFilter) -> list[Thing]: ...
    def child_uuids(self, domain: str, parents: Sequence[UUID]) -> dict[UUID, list[UUID]]: ...
    def delete_thing(self, domain: str, uuid: UUID) -> None: ...

    # Series
    def next_sid(self) -> int: ...
    def put_series(self, series: Series) -> None: ...
    def get_series(self, domain: str, uuid: UUID) -> Series | None: ...
    def find_series(self, domain: str, thing_uuid: UUID, name: str) -> Series | None: ...
    def list_series(self, domain: str, where: SeriesFilter) -> list[Series]: ...
    def delete_series(self, domain: str, uuid: UUID) -> None:
        """Delete the series and all of its points."""
        ...

    # Points
    def write_points(
        self, batches: Sequence[SeriesPoints], mode: WriteMode
    ) -> dict[int, PointCounts]:
        """Apply one write mode to each batch (sorted, unique timestamps); counts by sid."""
        ...

    def read_points(
        self,
        sid: int,
        span: TimeRange,
        values: ValueFilter,
        limit: int,
        descending: bool = False,
    ) -> tuple[Micros, Values]:
        """Times and values of ``sid`` in ``span``; arrays that may be read-only views of
        points held in memory, which the caller must not change."""
        ...

    def aggregate_points(
        self,
        sid: int,
        span: TimeRange,
        plan: BucketPlan,
        aggregate: Aggregate,
        values: ValueFilter,
    ) -> tuple[Micros, Values]:
        """Bucket keys (in the plan's local clock) and one aggregate per bucket, by key."""
        ...

    def delete_points(self, sid: int, span: TimeRange, values: ValueFilter) -> int: ...
    def point_span(self, sid: int) -> tuple[int, int] | None:
        """First and last timestamp stored for the series, or None when it is empty."""
        ...

    # Apollo: server secrets, keys by uuid, and reads over several series at once (issue 5)
    def get_secret(self, name: str) -> bytes | None: ...
    def put_secret(self, name: str, value: bytes) -> bytes:
        """Store ``value`` under ``name`` unless one is there already; return the stored one."""
        ...

    def get_key(self, uuid: UUID) -> ApiKey | None: ...
    def read_points_many(
        self,
        sids: Sequence[int],
        span: TimeRange,
        limit: int,
        descending: bool = False,
        after: tuple[int, int] | None = None,
    ) -> tuple[Micros, npt.NDArray[np.int64], Values]:
        """Points of several series ordered by ``(ts, sid)`` (both reversed when descending),
        strictly after the ``(ts, sid)`` keyset ``after`` in that order: ts, sid, v columns."""
        ...

    def count_points_many(self, sids: Sequence[int], span: TimeRange) -> int: ...

    # Datasets (issue 4): metadata rows; the bytes are in ``Store.blobs`` under ``checksum``.
    def put_dataset(self, dataset: Dataset) -> None: ...
    def get_dataset(self, domain: str, uuid: UUID) -> Dataset | None: ...
    def list_datasets(self, domain: str, where: DatasetFilter) -> list[Dataset]:
        """Ordered by (created, uuid); a dataset without a thing is in the default collection."""
        ...

    def delete_dataset(self, domain: str, uuid: UUID) -> None: ...
    def checksum_refs(self, checksum: str) -> int:
        """How many datasets, of any domain, hold the content with this checksum."""
        ...

    def dataset_checksums(self) -> set[str]:
        """Every checksum some dataset refers to (for sweeping unreferenced blobs)."""
        ...


class Store(Protocol):
    def read(self) -> AbstractContextManager[Session]: ...
    def read_from_memory(self) -> AbstractContextManager[Session]:
        """A read session that answers from what the store holds in memory alone, and
        raises ``NotInMemory`` at the first thing it would have to ask the database for
        (PostgreSQL: at once). It never waits, so it may run on the event loop."""
        ...

    def write(self) -> AbstractContextManager[Session]: ...
    def write_grouped(self, job: Callable[[Session], T], points: int) -> T:
        """``job``, which writes ``points`` points, in a write transaction that small point
        writes queued meanwhile may share (``group_commit.GroupCommit``). It may run twice,
        so its effects stay in the session."""
        ...

    def close(self) -> None:
        """Release every resource; calling it again does nothing."""
        ...

    # Datasets (issue 4): the content-addressed bytes of datasets.
    blobs: BlobStore
    # True when keys and domains are looked up in memory (the embedded store's cache), so
    # authentication may run on the event loop instead of a thread pool round trip.
    memory_lookups: bool


@runtime_checkable
class Snapshots(Protocol):
    """A store that can write a consistent snapshot of itself while it serves (embedded).

    PostgreSQL is not one: ``pg_dump`` takes its snapshots.
    """

    def snapshot(self, target: Path) -> Snapshot:
        """Write every row and blob into the new or empty folder ``target``; writes wait."""
        ...
