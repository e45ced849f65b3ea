"""Compaction of a stopped embedded store: its database file rebuilt without dead space.

DuckDB keeps the rows a write deleted until more than a third of their row group is gone,
and gives free blocks back only from the end of the file, so a store whose points were
overwritten or deleted keeps the space. ``compact_file`` copies every table, and where each
sequence stands, into a new file built by the same migrations, with the points ordered by
series and time (runs of one series pack best), checks the row counts, and swaps the new
file in with one rename. Until that rename the old file is untouched, so an interrupted
compaction loses nothing; a leftover new file is removed by the next one.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from wattbase.errors import StoreUnavailable
from wattbase.storage.disk import fsync_path
from wattbase.storage.embedded_schema import (
    connect_file,
    migrate,
    open_file,
    path_literal,
    table_counts,
)

# Stored columns only: ``points.ts`` and ``point_hours.hour`` are computed from them.
COLUMNS = {"points": "sid, ts_s, ts_us, v", "point_hours": "sid, h, n, total, lo, hi"}
ORDER = {"points": "sid, ts_s, ts_us", "point_hours": "sid, h"}


@dataclass(frozen=True)
class Compaction:
    path: str
    points: int
    bytes_before: int
    bytes_after: int
    seconds: float


def _log_of(path: Path) -> Path:
    """The write-ahead log DuckDB keeps beside the database file at ``path``."""
    return path.with_name(path.name + ".wal")


def _on_disk(path: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in (path, _log_of(path)) if p.exists())


def _carry_sequences(db: duckdb.DuckDBPyConnection, source: str) -> None:
    """Each sequence goes on from where the old file's stopped (series ids are never reused)."""
    rows = db.execute(
        "SELECT sequence_name, last_value, start_value, increment_by, min_value, max_value, "
        "cycle FROM duckdb_sequences() WHERE database_name = ?",
        [source],
    ).fetchall()
    for name, last, start, step, low, high, cycle in rows:
        after = start if last is None else last + step
        db.execute(f'DROP SEQUENCE fresh.main."{name}"').fetchall()
        db.execute(
            f'CREATE SEQUENCE fresh.main."{name}" INCREMENT BY {step} MINVALUE {low} '
            f"MAXVALUE {high} START {after} {'CYCLE' if cycle else 'NO CYCLE'}"
        ).fetchall()


def _copy(db: duckdb.DuckDBPyConnection, building: Path) -> dict[str, int]:
    """Fill the fresh file at ``building`` from ``db``'s tables; their row counts."""
    migrate(db)  # an older file: the same schema as the fresh one
    source = db.execute("SELECT current_database()").fetchall()[0][0]
    fresh = open_file(building)
    try:
        migrate(fresh)
    finally:
        fresh.close()
    db.execute(f"ATTACH {path_literal(building)} AS fresh").fetchall()
    counts = table_counts(db, source)
    db.execute("BEGIN TRANSACTION").fetchall()
    for name in counts:
        if name == "schema_migrations":
            continue  # the fresh file's own migrations filled it
        columns = COLUMNS.get(name)
        target = f'fresh.main."{name}"' + (f" ({columns})" if columns else "")
        order = f" ORDER BY {ORDER[name]}" if name in ORDER else ""
        db.execute(
            f'INSERT INTO {target} SELECT {columns or "*"} FROM "{source}".main."{name}"{order}'
        ).fetchall()
    _carry_sequences(db, source)
    db.execute("COMMIT").fetchall()
    copied = table_counts(db, "fresh")
    if copied != counts:
        raise StoreUnavailable(f"compaction copied {copied} rows of {counts}; nothing changed")
    db.execute("CHECKPOINT fresh").fetchall()
    db.execute("DETACH fresh").fetchall()
    return counts


def compact_file(path: Path) -> Compaction:
    """Rebuild the store file at ``path`` (its server stopped) and swap it in."""
    started = time.monotonic()
    if not path.exists():
        raise StoreUnavailable(f"there is no embedded store at {path}")
    building = path.with_name(path.name + ".compacting")
    leftovers = (building, _log_of(building))
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    before = _on_disk(path)
    db = connect_file(path, "then compact")
    try:
        try:
            counts = _copy(db, building)
        finally:
            db.close()  # checkpoints the old file: no log is left to replay onto the new one
        if _log_of(path).exists() or _log_of(building).exists():
            raise StoreUnavailable(f"DuckDB left a write-ahead log beside {path}; nothing changed")
    except BaseException:
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
        raise
    fsync_path(building)
    os.replace(building, path)
    fsync_path(path.parent)
    return Compaction(
        path=str(path),
        points=counts.get("points", 0),
        bytes_before=before,
        bytes_after=_on_disk(path),
        seconds=round(time.monotonic() - started, 3),
    )
