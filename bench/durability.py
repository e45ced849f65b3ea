"""The cost of durability and the time of backups, on the embedded store, in-process.

``python -m bench.durability`` (``--points`` for the backup size, 10.08 M by default):

- commit throughput with DuckDB's ``fsync_mode`` at its default (``standard``: the WAL is
  fdatasynced on every commit, a checkpointed commit fsyncs the database file) against
  ``none``, for 100-point and 10,000-point transactions through the write engine's storage
  call. No HTTP, so the ratio is the worst case: a request adds its own time on top.
- ``wattbase backup`` (the store's snapshot, as POST /admin/backup takes it) and
  ``wattbase restore`` of a store holding ``--points`` points (1,000 series of minute data).

Figures only, no asserts. Results vary with the disk and with what else runs.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import data
from wattbase.config import Settings
from wattbase.core import backups
from wattbase.model.points import SeriesPoints, WriteMode
from wattbase.storage.embedded import EmbeddedStore

START = 1_700_000_000_000_000


def _batch(sid: int, first: int, count: int) -> SeriesPoints:
    """The benchmark's minute data (daily cycle plus noise), as microsecond columns."""
    start_s = START // 1_000_000 + first * 60
    ts = data.stamps(start_s, count).astype(np.int64) * 1_000_000
    return SeriesPoints(sid=sid, ts=ts, v=data.values(sid, start_s, count).astype(np.float64))


def commit_rate(folder: Path, fsync: str, points: int, commits: int) -> float:
    """Points per second written in ``commits`` transactions of ``points`` each."""
    store = EmbeddedStore(folder / f"{fsync}-{points}" / "wattbase.duckdb")
    try:
        # The bench reaches into the store: fsync_mode is not a wattbase setting, on purpose.
        store._db.execute(f"SET fsync_mode = '{fsync}'").fetchall()
        started = time.perf_counter()
        for i in range(commits):
            with store.write() as session:
                session.write_points(
                    [_batch(1 + i % 50, (i // 50) * points, points)], WriteMode.INSERT
                )
        return points * commits / (time.perf_counter() - started)
    finally:
        store.close()


def load(store: EmbeddedStore, total: int, series: int = 1_000) -> None:
    per_series = total // series
    for sid in range(1, series + 1):
        with store.write() as session:
            session.write_points([_batch(sid, 0, per_series)], WriteMode.REPLACE_WINDOW)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.durability")
    parser.add_argument("--points", type=int, default=10_080_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="wattbase-durability-"))
    try:
        for points, commits in ((100, 500), (10_000, 50)):
            # Alternating runs and medians: other processes share the machine.
            rates: dict[str, list[float]] = {"standard": [], "none": []}
            for run in range(3):
                for mode, found in rates.items():
                    found.append(commit_rate(folder / str(run), mode, points, commits))
            safe = statistics.median(rates["standard"]) / 1e6
            unsafe = statistics.median(rates["none"]) / 1e6
            print(
                f"{points:>6}-point commits: fsync standard {safe:.3f} Mpt/s, "
                f"none {unsafe:.3f} Mpt/s, ratio {safe / unsafe:.2f}"
            )
        data = folder / "data"
        store = EmbeddedStore(data / "wattbase.duckdb")
        try:
            started = time.perf_counter()
            load(store, args.points)
            print(f"loaded {args.points:,} points in {time.perf_counter() - started:.1f} s")
            snapshot = backups.backup(store, folder / "snapshot")
        finally:
            store.close()
        size = snapshot.bytes / 2**20
        db_size = (data / "wattbase.duckdb").stat().st_size / 2**20
        print(
            f"backup: {snapshot.points:,} points in {snapshot.seconds:.2f} s, {size:.0f} MiB "
            f"(store file {db_size:.0f} MiB)"
        )
        restored = backups.restore(folder / "snapshot", Settings(data_dir=folder / "restored"))
        print(f"restore: {restored.points:,} points in {restored.seconds:.2f} s")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
