"""Snapshots of the embedded store: a folder that a fresh data folder can be rebuilt from.

A snapshot holds ``db/`` (DuckDB's ``EXPORT DATABASE``: ``schema.sql``, ``load.sql`` and one
Parquet file per table, readable without wattbase), ``blobs/`` (the dataset bytes, by
checksum) and ``manifest.json`` (row counts per table and the blobs, checked on restore).
It is written into ``<target>.partial`` and renamed into place once every file is fsynced,
so a folder named ``target`` is always a whole snapshot.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from wattbase.errors import InvalidRequest
from wattbase.storage.blobs import CHECKSUM, CHUNK
from wattbase.storage.disk import fsync_path
from wattbase.storage.embedded_schema import open_file, path_literal, table_counts

FORMAT = "wattbase-embedded-snapshot"
VERSION = 1
DATABASE_FILE = "wattbase.duckdb"


@dataclass
class Snapshot:
    """What a snapshot holds; ``manifest.json`` is this, as JSON."""

    path: str
    created: str
    tables: dict[str, int]
    blobs: list[str] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0
    format: str = FORMAT
    version: int = VERSION

    @property
    def points(self) -> int:
        return self.tables.get("points", 0)


def _fsync_tree(root: Path) -> int:
    """Flush every file and folder under ``root`` to disk; the bytes of the files."""
    size = 0
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            size += path.stat().st_size
            fsync_path(path)
        fsync_path(Path(folder))
    return size


def check_target(target: Path) -> None:
    """A snapshot or a restore goes into a new or empty folder, never over anything."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InvalidRequest(f"{target} exists and is not an empty folder", param="path")


def write_snapshot(
    cursor: duckdb.DuckDBPyConnection, blob_root: Path, checksums: Iterable[str], target: Path
) -> Snapshot:
    """Export the database seen by ``cursor`` and copy the named blobs into ``target``.

    The caller holds the store's write lock, so the rows and the blobs agree.
    """
    started = time.monotonic()
    target = target.absolute()
    check_target(target)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        tables = table_counts(cursor)
        # One statement, so one transaction: a consistent view even without the lock.
        cursor.execute(
            f"EXPORT DATABASE {path_literal(partial / 'db')} (FORMAT parquet, COMPRESSION zstd)"
        ).fetchall()
        kept = sorted(set(checksums))
        for checksum in kept:
            source = blob_root / checksum[:2] / checksum
            (partial / "blobs" / checksum[:2]).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, partial / "blobs" / checksum[:2] / checksum)
        snapshot = Snapshot(
            path=str(target),
            created=datetime.now(UTC).isoformat(),
            tables=tables,
            blobs=kept,
        )
        (partial / "manifest.json").write_text(json.dumps(asdict(snapshot), indent=1))
        snapshot.bytes = _fsync_tree(partial)
        if target.exists():
            target.rmdir()  # empty, checked above
        os.replace(partial, target)
        fsync_path(target.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    snapshot.seconds = round(time.monotonic() - started, 3)
    return snapshot


def read_manifest(source: Path) -> Snapshot:
    try:
        raw: dict[str, Any] = json.loads((source / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise InvalidRequest(f"{source} is not a wattbase snapshot: {exc}", param="path") from None
    if raw.get("format") != FORMAT or raw.get("version") != VERSION:
        raise InvalidRequest(f"{source} is not a wattbase snapshot (version 1)", param="path")
    return Snapshot(**raw)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _import(source: Path, building: Path) -> dict[str, int]:
    db = open_file(building / DATABASE_FILE)
    try:
        db.execute(f"IMPORT DATABASE {path_literal((source / 'db').absolute())}").fetchall()
        found = table_counts(db)
        db.execute("CHECKPOINT").fetchall()
    finally:
        db.close()
    return found


def restore_snapshot(source: Path, data_dir: Path) -> Snapshot:
    """Rebuild ``data_dir`` (new or empty) from the snapshot in ``source``, checking it."""
    started = time.monotonic()
    manifest = read_manifest(source)
    data_dir = data_dir.absolute()
    check_target(data_dir)
    building = data_dir.with_name(f".{data_dir.name}.restoring")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    try:
        try:
            found = _import(source, building)
        except (OSError, duckdb.Error) as exc:
            raise InvalidRequest(f"cannot restore {source}: {exc}", param="path") from None
        if found != manifest.tables:
            raise InvalidRequest(
                f"the snapshot in {source} is damaged: rows {found}, manifest {manifest.tables}",
                param="path",
            )
        for checksum in manifest.blobs:
            if not CHECKSUM.fullmatch(checksum):
                raise InvalidRequest(f"bad blob name {checksum!r} in the manifest", param="path")
            copy = building / "blobs" / checksum[:2] / checksum
            copy.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(source / "blobs" / checksum[:2] / checksum, copy)
            except OSError as exc:
                raise InvalidRequest(f"cannot restore {source}: {exc}", param="path") from None
            if _sha256(copy) != checksum:
                raise InvalidRequest(f"blob {checksum} in {source} is damaged", param="path")
        manifest.bytes = _fsync_tree(building)
        if data_dir.exists():
            data_dir.rmdir()  # empty, checked above
        os.replace(building, data_dir)
        fsync_path(data_dir.parent)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    manifest.path = str(data_dir)
    manifest.seconds = round(time.monotonic() - started, 3)
    return manifest
