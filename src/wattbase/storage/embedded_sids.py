"""Series ids of the embedded store, taken from its sequence in blocks.

A ``nextval`` in the writer's transaction is a statement per new series (0.5-0.7 ms
here). A block is taken in a transaction of its own, on a cursor of its own, and
committed at once: DuckDB logs a sequence's value only when a transaction that used it
commits, so ids from a block taken inside a write that rolled back would come round again
after a crash. Ids left in a block when the process ends are skipped, never reused.
"""

from __future__ import annotations

import duckdb

from wattbase.storage.embedded_schema import transaction

BLOCK = 64


class SidBlocks:
    """Hands out ``series_sid`` values; only the writer calls it, under the write lock."""

    def __init__(self, db: duckdb.DuckDBPyConnection) -> None:
        self._cursor = db.cursor()
        self._left: list[int] = []  # the block's ids not handed out yet, highest first

    def take(self) -> int:
        if not self._left:
            with transaction(self._cursor):
                taken = f"SELECT nextval('series_sid') FROM range({BLOCK})"
                rows = self._cursor.execute(taken).fetchall()
            self._left = sorted((int(r[0]) for r in rows), reverse=True)
        return self._left.pop()

    def close(self) -> None:
        self._cursor.close()
