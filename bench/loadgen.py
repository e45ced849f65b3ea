"""The mixed-load generator, run as its own process: ``python -m bench.loadgen < spec.json``.

Each worker thread keeps one connection and cycles through the Self-host mix: day, month and
quarter reads of 10-minute series, and 100-point writes of new points to a series of its own.
It prints requests/s, latency percentiles and errors as JSON.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from typing import Any

import numpy as np

from bench.client import Client
from bench.data import DAY, stamps, values
from bench.protocols import raw_read, write_request

# Half day reads, a fifth month reads, a tenth quarter reads, a fifth writes.
CYCLE = ("day", "month", "day", "write", "quarter", "day", "month", "day", "write", "day")
WINDOWS = {"day": DAY, "month": 30 * DAY, "quarter": 91 * DAY}
WRITE_START = 1_798_761_600  # 2027-01-01, after every read window


def _worker(spec: dict[str, Any], index: int, stop_at: float, out: list[float], errors: list[str]):
    flavor, series = spec["flavor"], spec["series"]
    client = Client(spec["port"], spec["headers"])
    rng = random.Random(index)
    first, last = spec["start"], spec["end"]
    written = 0
    own = f"w{index:02d}"
    step = 0
    while time.perf_counter() < stop_at:
        kind = CYCLE[step % len(CYCLE)]
        step += 1
        if kind == "write":
            ts = stamps(WRITE_START + written * 600, 100, 600)
            v = values(1000 + index, int(ts[0]), 100, 600)
            written += 100
            path, body = write_request(flavor, [(own, ts, v)])
            began = time.perf_counter()
            try:
                client.post(path, body)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors.append(str(exc)[:200])
                continue
        else:
            width = WINDOWS[kind]
            start = first + rng.randrange(0, max(1, (last - first - width) // 600)) * 600
            path = raw_read(flavor, rng.choice(series), start, min(last, start + width), 600)
            began = time.perf_counter()
            try:
                client.get(path)
            except Exception as exc:  # noqa: BLE001
                errors.append(str(exc)[:200])
                continue
        out.append(time.perf_counter() - began)
    client.close()


def run(spec: dict[str, Any]) -> dict[str, Any]:
    latencies: list[list[float]] = [[] for _ in range(spec["workers"])]
    errors: list[str] = []
    began = time.perf_counter()
    stop_at = began + spec["seconds"]
    threads = [
        threading.Thread(target=_worker, args=(spec, i, stop_at, latencies[i], errors))
        for i in range(spec["workers"])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    every = np.array([x for xs in latencies for x in xs]) * 1000
    return {
        "requests": len(every),
        "seconds": elapsed,
        "rps": len(every) / elapsed,
        "p50_ms": float(np.percentile(every, 50)) if len(every) else None,
        "p99_ms": float(np.percentile(every, 99)) if len(every) else None,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


if __name__ == "__main__":
    print(json.dumps(run(json.load(sys.stdin))))
