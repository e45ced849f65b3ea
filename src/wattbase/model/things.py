"""Things (v1 nodes, apollo devices) and their time series."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Thing:
    uuid: UUID
    domain: str
    node_id: int
    name: str
    collection: str
    created: datetime
    state: str = "active"
    type: str | None = None
    created_by: UUID | None = None
    tags: tuple[str, ...] = ()
    parent: UUID | None = None
    device_id: str | None = None


@dataclass(frozen=True, slots=True)
class Series:
    uuid: UUID
    # Internal dense integer key used by the points table; never shown to clients.
    sid: int
    domain: str
    thing_uuid: UUID
    name: str
    created: datetime
    si_unit: str | None = None
    lower_bound: float | None = None
    upper_bound: float | None = None
    tags: tuple[str, ...] = ()
    point_type: str | None = None
    created_by: UUID | None = None


@dataclass(frozen=True, slots=True)
class ThingFilter:
    tags: tuple[str, ...] = ()
    parent: UUID | None = None
    type: str | None = None
    collections: frozenset[str] | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class SeriesFilter:
    tags: tuple[str, ...] = ()
    thing_uuid: UUID | None = None
    names: tuple[str, ...] = ()
    collections: frozenset[str] | None = None
    limit: int = 100
    offset: int = 0
