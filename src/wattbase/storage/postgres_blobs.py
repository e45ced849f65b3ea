"""Dataset bytes in PostgreSQL, so every API process on the database serves the same blobs.

A blob is one ``blobs`` row and its content in ``blob_chunks`` rows of 1 MiB ``bytea``,
written in one transaction on a connection of its own: either all of it is readable or none.
Uploads spool to a local temporary file first, as with ``FolderBlobs``. Because other
processes may be between placing a blob and committing the dataset row that refers to it,
or still writing a spool file in the same folder, ``sweep`` only removes unreferenced blobs
and spool files older than ``SWEEP_AFTER``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

from psycopg_pool import ConnectionPool

from wattbase.errors import NotFound
from wattbase.storage.blobs import CHECKSUM, CHUNK, Spool

SWEEP_AFTER = timedelta(hours=1)


def _checked(checksum: str) -> str:
    if not CHECKSUM.fullmatch(checksum):
        raise ValueError(f"not a sha256 checksum: {checksum!r}")
    return checksum


class PgBlobs:
    """Blobs as chunked ``bytea`` rows; see the module docstring."""

    def __init__(self, pool: ConnectionPool[Any], spool_dir: Path) -> None:
        self._pool = pool
        self._spool_dir = spool_dir

    def spool(self, limit: int) -> Spool:
        return Spool(self._spool_dir, limit)

    def commit(self, spool: Spool) -> None:
        checksum = _checked(spool.checksum)
        try:
            with self._pool.connection() as conn, conn.transaction():
                placed = conn.execute(
                    "INSERT INTO blobs (checksum, size) VALUES (%s, %s) "
                    "ON CONFLICT DO NOTHING RETURNING checksum",
                    [checksum, spool.size],
                ).fetchone()
                if placed is None:
                    # Same checksum, same bytes: the stored copy serves both datasets.
                    return
                if not spool.file.closed:
                    spool.file.flush()
                with spool.path.open("rb") as source:
                    seq = 0
                    while chunk := source.read(CHUNK):
                        conn.execute(
                            "INSERT INTO blob_chunks (checksum, seq, data) VALUES (%s, %s, %s)",
                            [checksum, seq, chunk],
                        )
                        seq += 1
        finally:
            spool.discard()

    def open(self, checksum: str) -> BinaryIO:
        # Copied to a local temporary file, so the answer streams without holding a
        # connection for as long as the client takes to read it.
        out = tempfile.TemporaryFile()
        with self._pool.connection() as conn:
            found = conn.execute(
                "SELECT 1 FROM blobs WHERE checksum = %s", [_checked(checksum)]
            ).fetchone()
            if found is None:
                out.close()
                raise NotFound(f"no content {checksum}", param="checksum")
            with conn.cursor(name="wattbase_blob") as cur:
                cur.execute(
                    "SELECT data FROM blob_chunks WHERE checksum = %s ORDER BY seq", [checksum]
                )
                for (data,) in cur:
                    out.write(data)
        out.seek(0)
        return out

    def delete(self, checksum: str) -> None:
        with self._pool.connection() as conn:
            conn.execute("DELETE FROM blobs WHERE checksum = %s", [_checked(checksum)])

    def sweep(self, keep: Iterable[str]) -> int:
        kept = sorted(set(keep))
        removed = 0
        if self._spool_dir.is_dir():
            stale = time.time() - SWEEP_AFTER.total_seconds()
            for leftover in self._spool_dir.iterdir():
                if leftover.stat().st_mtime < stale:
                    leftover.unlink(missing_ok=True)
                    removed += 1
        with self._pool.connection() as conn:
            gone = conn.execute(
                "DELETE FROM blobs WHERE NOT (checksum = ANY(%s::text[])) "
                "AND created < now() - %s RETURNING checksum",
                [kept, SWEEP_AFTER],
            ).fetchall()
        return removed + len(gone)

    def checksums(self) -> list[str]:
        """Every stored blob's checksum, sorted (for operators and tests)."""
        with self._pool.connection() as conn:
            rows = conn.execute("SELECT checksum FROM blobs ORDER BY checksum").fetchall()
        return [r[0] for r in rows]
