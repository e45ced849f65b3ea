"""Committed metadata of the embedded store (domains, keys, things, series), kept in memory.

Every request looks up its key, domain, node and series before it touches a point, and each
DuckDB lookup costs about a millisecond; a dictionary hit costs a microsecond. The rules:

- Only committed rows go in: a write session that has changed metadata stops using the
  cache, and the store drops everything once that transaction commits. A rollback leaves
  the cache as it was, since nothing uncommitted ever entered it.
- A reader that loaded a row while a commit went by does not store it (the generation
  moved on), so a stale row cannot come back after the drop.
- Absent rows are not cached: a wrong secret must cost a lookup, not memory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TypeVar
from uuid import UUID

from wattbase.model.things import Series

T = TypeVar("T")


class MetaCache:
    """Rows by lookup key; ``clear()`` after every commit that changed metadata."""

    def __init__(self, limit: int = 200_000) -> None:
        self._rows: dict[Hashable, object] = {}
        self._lock = threading.Lock()
        self._limit = limit
        self.generation = 0

    def lookup(self, key: Hashable, load: Callable[[], T | None]) -> T | None:
        found = self._rows.get(key)
        if found is not None:
            return found  # type: ignore[return-value]
        generation = self.generation
        value = load()
        if value is not None:
            with self._lock:
                if generation == self.generation:
                    if len(self._rows) >= self._limit:
                        self._rows.clear()
                    self._rows[key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._rows.clear()


SeriesKey = tuple[str, UUID]  # (domain, thing uuid)


class SeriesNames:
    """Every series of a thing by name, for the writer: a miss needs no query either.

    Writes name series by ``(node, tag)`` and create the missing ones, so most lookups of a
    new series miss, and a miss cannot be cached in ``MetaCache``. The writer keeps whole
    listings instead: a thing's listing, once loaded, answers "no such series" exactly. Only
    the writer uses it, under the store's write lock; like ``Tails``, what a transaction
    loaded or made counts only once it commits. A commit that changed or deleted metadata
    (anything but new series) drops every listing.
    """

    def __init__(self, limit: int = 200_000) -> None:
        self.known: dict[SeriesKey, dict[str, Series]] = {}
        self._size = 0
        self._limit = limit

    def commit(
        self,
        loaded: dict[SeriesKey, dict[str, Series]],
        added: dict[tuple[str, UUID, str], Series],
        *,
        stale: bool,
    ) -> None:
        if stale or self._size > self._limit:
            self.known.clear()
            self._size = 0
            if stale:
                return
        for key, listing in loaded.items():
            self._size += len(listing)
            self.known[key] = listing
        for (domain, thing_uuid, name), series in added.items():
            known = self.known.get((domain, thing_uuid))
            if known is not None:
                self._size += 1
                known[name] = series
