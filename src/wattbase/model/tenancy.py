"""Domains (tenants) and their API keys."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

DOMAIN_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
DEFAULT_COLLECTION = "default"


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"
    APOLLO_READ = "apollo_read"
    APOLLO_WRITE = "apollo_write"


ALL_SCOPES = frozenset(Scope)


@dataclass(frozen=True, slots=True)
class Domain:
    name: str
    timezone: str = "UTC"
    # The domain's own request rate per API key; None: the server's default.
    rate_per_second: float | None = None
    rate_burst: int | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    uuid: UUID
    domain: str
    name: str
    scopes: frozenset[Scope]
    created: datetime
    # None: every collection of the domain; otherwise only these.
    collections: frozenset[str] | None = None
    revoked: datetime | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: the domain, the key that proved it, and what it may do."""

    domain: Domain
    key: ApiKey
    scopes: frozenset[Scope] = field(default_factory=frozenset)
    collections: frozenset[str] | None = None

    def sees_collection(self, collection: str) -> bool:
        return self.collections is None or collection in self.collections
