"""Run the benchmark: ``python -m bench`` (full) or ``python -m bench --quick`` (smoke run)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from bench import data
from bench.client import Client
from bench.protocols import body, count_points, daily_sums, hourly_reads, raw_read, write_path
from bench.report import render
from bench.systems import (
    ROOT,
    InfluxDB,
    System,
    Unavailable,
    Victoria,
    Wattbase,
    WattbasePostgres,
)

ZONE = "Europe/Stockholm"
INGEST_START = 1_748_736_000  # 2025-06-01T00:00Z
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Sizes:
    series: int = 1000
    days: int = 7
    chunk: int = 10_000
    year_start: str = "2025-01-01"
    year_days: int = 365
    ten_minute_series: int = 10
    reps: int = 5
    mixed_seconds: int = 60
    workers: int = 8
    senders: int = 4


QUICK = Sizes(
    series=20,
    days=1,
    chunk=2_000,
    year_start="2025-03-01",
    year_days=35,
    ten_minute_series=3,
    reps=3,
    mixed_seconds=5,
    workers=4,
    senders=2,
)


def local_span(sizes: Sizes) -> tuple[int, int]:
    """The 'year': local midnight to local midnight in Europe/Stockholm, as epoch seconds."""
    first = datetime.fromisoformat(sizes.year_start).replace(tzinfo=ZoneInfo(ZONE))
    last = (first.replace(tzinfo=None) + timedelta(days=sizes.year_days)).replace(
        tzinfo=ZoneInfo(ZONE)
    )
    return int(first.timestamp()), int(last.timestamp())


class Workload:
    """The same data for every system, encoded once per wire format."""

    def __init__(self, sizes: Sizes) -> None:
        self.sizes = sizes
        self.start, self.end = local_span(sizes)
        self.per_series = sizes.days * 1440
        self.year_points = (self.end - self.start) // 60
        self.ten_points = (self.end - self.start) // 600
        self.ten_names = [f"t{i:02d}" for i in range(sizes.ten_minute_series)]
        self._bodies: dict[tuple[str, str], list[bytes]] = {}

    def _ingest_items(self, parts: list[tuple[int, int, int]], bump: float) -> list[Any]:
        ts = data.stamps(INGEST_START, self.per_series)
        out = []
        for series, lo, hi in parts:
            v = data.values(series, INGEST_START, self.per_series)[lo:hi]
            out.append((f"s{series:04d}", ts[lo:hi], np.round(v + bump, 2)))
        return out

    def _encode(self, flavor: str, step: str) -> list[bytes]:
        fmt = "v1" if flavor == "wattbase" else "line"
        key = (fmt, step)
        if key not in self._bodies:
            self._bodies[key] = [body(flavor, items) for items in self._items(step)]
        return self._bodies[key]

    def _items(self, step: str) -> Iterator[list[Any]]:
        s = self.sizes
        if step == "preload":
            for first in range(0, self.year_points, s.chunk):
                n = min(s.chunk, self.year_points - first)
                t0 = self.start + 60 * first
                yield [("year", data.stamps(t0, n), data.values(7_000_001 + first, t0, n))]
            for i, name in enumerate(self.ten_names):
                for first in range(0, self.ten_points, s.chunk):
                    n = min(s.chunk, self.ten_points - first)
                    t0 = self.start + 600 * first
                    seed = 8_000_000 + 1000 * i + first
                    yield [(name, data.stamps(t0, n, 600), data.values(seed, t0, n, 600))]
        elif step == "ingest":
            for parts in data.spans(s.series, self.per_series, s.chunk):
                yield self._ingest_items(parts, 0.0)
        else:
            tail = self.per_series // 10
            lo = self.per_series - tail
            for parts in data.spans(s.series, tail, s.chunk):
                yield self._ingest_items([(x, lo + a, lo + b) for x, a, b in parts], 0.5)

    def points(self, step: str) -> int:
        if step == "preload":
            return self.year_points + len(self.ten_names) * self.ten_points
        if step == "ingest":
            return self.sizes.series * self.per_series
        return self.sizes.series * (self.per_series // 10)

    def send(self, system: System, step: str) -> float:
        """Send every body of ``step`` over ``senders`` connections; points per second."""
        bodies = self._encode(system.flavor, step)
        path = write_path(system.flavor, update=step == "rewrite")
        queue = iter(bodies)
        lock = threading.Lock()
        failures: list[BaseException] = []

        def sender() -> None:
            client = system.client()
            while not failures:
                with lock:
                    item = next(queue, None)
                if item is None:
                    break
                try:
                    client.post(path, item)
                except BaseException as exc:
                    failures.append(exc)
            client.close()

        threads = [threading.Thread(target=sender) for _ in range(self.sizes.senders)]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - began
        if failures:
            raise failures[0]
        return self.points(step) / elapsed


def timed(client: Client, paths: list[str], reps: int) -> tuple[float, bytes]:
    """Median over ``reps`` (after one warm-up) of the time to answer all ``paths`` in turn."""
    answer = b""
    for path in paths:
        answer = client.get(path)
    samples = []
    for _ in range(reps):
        began = time.perf_counter()
        for path in paths:
            client.get(path)
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples), answer


def mixed(system: System, work: Workload) -> dict[str, Any]:
    spec = {
        "flavor": system.flavor,
        "port": system.port,
        "headers": system.client().headers,
        "series": work.ten_names,
        "start": work.start,
        "end": work.end,
        "seconds": work.sizes.mixed_seconds,
        "workers": work.sizes.workers,
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench.loadgen"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measure(system: System, work: Workload, log: Callable[[str], None]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    notes: list[str] = []
    row: dict[str, Any] = {"name": system.name, "figures": figures, "notes": notes}
    system.start()
    log("started; preloading query series")
    work.send(system, "preload")
    figures["ingest"] = work.send(system, "ingest")
    log(f"ingest {figures['ingest'] / 1e6:.2f} M points/s")
    if system.flavor == "victoria":
        notes.append("rewrite: no upsert (a re-write stores duplicates), not run")
    else:
        figures["rewrite"] = work.send(system, "rewrite")
        log(f"rewrite {figures['rewrite'] / 1e6:.2f} M points/s")
    system.flush()
    stored = work.points("preload") + work.points("ingest")
    size = system.data_bytes()
    if size is not None:
        figures["bytes_per_point"] = size / stored
        figures["disk_bytes"] = size
    client = system.client()
    reps, start, end, f = work.sizes.reps, work.start, work.end, system.flavor
    figures["q1_ms"], answer = timed(client, hourly_reads(f, "year", start, end), reps)
    figures["q1_buckets"] = count_points(f, answer)
    q2 = daily_sums(f, "year", start, end, ZONE)
    if q2 is None:
        notes.append("Q2: cannot bucket by local days of a time zone")
    else:
        figures["q2_ms"], answer = timed(client, q2, reps)
        figures["q2_buckets"] = count_points(f, answer)
    day = start + 100 * 86_400 if work.sizes.year_days > 101 else start + 86_400
    figures["q3_ms"], answer = timed(client, [raw_read(f, "year", day, day + 86_400, 60)], reps)
    figures["q3_points"] = count_points(f, answer)
    figures["q4_ms"], answer = timed(client, [raw_read(f, "t00", start, end, 600)], reps)
    figures["q4_points"] = count_points(f, answer)
    client.close()
    log(f"Q1 {figures['q1_ms']:.1f} Q3 {figures['q3_ms']:.2f} Q4 {figures['q4_ms']:.1f} ms")
    load = mixed(system, work)
    figures["mixed_rps"], figures["mixed_p99_ms"] = load["rps"], load["p99_ms"]
    figures["mixed_p50_ms"], figures["mixed_errors"] = load["p50_ms"], load["errors"]
    if load["errors"]:
        notes.append(f"mixed load: {load['errors']} errors, first: {load['first_error']}")
    log(f"mixed {load['rps']:.0f} req/s, p99 {load['p99_ms']:.1f} ms")
    rss = system.peak_rss()
    if rss is not None:
        figures["peak_rss_mb"] = rss / 2**20
    compacted = system.compact()
    if compacted is not None:
        # After the mixed load's writes too: the points the compaction counted.
        figures["bytes_compacted"] = compacted[0] / compacted[1]
        log(f"compacted: {figures['bytes_compacted']:.2f} bytes per point")
    return row


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {"nproc": os.cpu_count(), "memory_gib": round(pages / 2**30, 1), "cpu": cpu}


def systems(only: list[str] | None) -> list[Callable[[], System]]:
    pg = os.environ.get(
        "WATTBASE_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    makers: dict[str, Callable[[], System]] = {
        "embedded": Wattbase,
        "postgres": lambda: WattbasePostgres(pg),
        "influxdb": InfluxDB,
        "victoria": Victoria,
    }
    return [m for k, m in makers.items() if not only or k in only]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
    parser.add_argument("--only", nargs="*", help="embedded postgres influxdb victoria")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    sizes = QUICK if args.quick else Sizes()
    work = Workload(sizes)
    results: list[dict[str, Any]] = []
    for make in systems(args.only):
        system = make()

        def log(text: str, name: str = system.name) -> None:
            print(f"[{name}] {text}", file=sys.stderr, flush=True)

        try:
            results.append(measure(system, work, log))
        except Unavailable as exc:
            log(f"unavailable: {exc}")
            results.append({"name": system.name, "figures": {}, "notes": [str(exc)]})
        except KeyboardInterrupt:
            log("interrupted; stopping")
            system.stop()
            raise
        except Exception as exc:  # noqa: BLE001 - one failing system must not stop the rest
            log(f"failed: {exc!r}")
            results.append(
                {"name": system.name, "figures": {}, "notes": [f"failed: {exc!r}"[:300]]}
            )
        finally:
            system.stop()
    when = datetime.now(UTC)
    doc = {
        "when": when.isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "machine": machine(),
        "sizes": asdict(sizes),
        "results": results,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{when:%Y%m%dT%H%M%SZ}-{doc['mode']}.json"
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(render(results))
    print(f"\nmachine: {doc['machine']}; results: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
