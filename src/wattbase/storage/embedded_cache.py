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
