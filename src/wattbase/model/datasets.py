"""Datasets: documents (CSV, JSON, XML, ...) kept beside the things they describe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID


class Format(StrEnum):
    CSV = "csv"
    JSON = "json"
    XML = "xml"
    YAML = "yaml"
    TOML = "toml"
    INI = "ini"
    MISC = "misc"


@dataclass(frozen=True, slots=True)
class Dataset:
    """The metadata of one document; its bytes live in the store's blobs under ``checksum``."""

    uuid: UUID
    domain: str
    name: str
    format: Format
    size: int
    # SHA-256 of the content, lower-case hex: also the content's address among the blobs.
    checksum: str
    created: datetime
    updated: datetime
    thing_uuid: UUID | None = None
    created_by: UUID | None = None
    updated_by: UUID | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DatasetFilter:
    tags: tuple[str, ...] = ()
    thing_uuid: UUID | None = None
    format: Format | None = None
    # None: every collection. A dataset without a thing counts as in the default collection.
    collections: frozenset[str] | None = None
    limit: int = 100
    offset: int = 0
