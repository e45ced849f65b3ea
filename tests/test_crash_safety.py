"""SIGKILL the server while a client writes: nothing acknowledged is lost, nothing is half-done.

A client writes v1 batches (one to three series each, every write mode, from one point to
batches big enough that DuckDB commits them by checkpoint instead of through its WAL) and
keeps a model of what the server must hold: every acknowledged request applied in order.
A timer kills the server with SIGKILL at a random moment; the request in flight then is
the one unknown. After the restart the stored points must equal the model either with that
request applied in full or without it, never anything in between; the model then follows
what was found. Some restarts are killed too, while the store replays its log.
``WATTBASE_CRASH_KILLS`` sets the number of kills (20 by default).
"""

from __future__ import annotations

import os
import random
import threading
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import Server

KILLS = int(os.environ.get("WATTBASE_CRASH_KILLS", "20"))
SEED = int(os.environ.get("WATTBASE_CRASH_SEED", "8"))
URL_PATH = "/demo/api/v1/timeseries"
HEADERS = {"Authorization": "Key demo-secret"}
TAGS = ("crash_a", "crash_b", "crash_c", "crash_d")
BASE = 1_700_000_000  # seconds; each series holds points in [BASE, BASE + SPAN)
SPAN = 20_000
MODES = (None, "update_window", "replace_window")

State = dict[str, dict[int, float]]


@dataclass
class Batch:
    """One request: points per tag, and the write mode (None: insert)."""

    number: int
    mode: str | None
    points: dict[str, dict[int, float]]

    def body(self) -> list[dict[str, object]]:
        return [
            {"node_id": 1, "tag": tag, "data": [{"v": v, "ts": ts} for ts, v in pts.items()]}
            for tag, pts in self.points.items()
        ]

    def applied_to(self, state: State) -> State:
        """The state after this request, by the documented rules of the three modes."""
        after = {tag: dict(pts) for tag, pts in state.items()}
        for tag, pts in self.points.items():
            stored = after.setdefault(tag, {})
            if self.mode == "replace_window":
                lo, hi = min(pts), max(pts)
                for ts in [t for t in stored if lo <= t <= hi]:
                    del stored[ts]
            for ts, v in pts.items():
                if self.mode is not None or ts not in stored:
                    stored[ts] = v
        return after


def make_batch(rng: random.Random, number: int) -> Batch:
    points: dict[str, dict[int, float]] = {}
    for tag in rng.sample(TAGS, rng.choice((1, 1, 2, 3))):
        # Mostly small requests; some of 4,000-12,000 points, which DuckDB writes by
        # checkpointing the database file rather than appending to its WAL.
        size = rng.randint(4_000, 12_000) if rng.random() < 0.1 else rng.randint(1, 300)
        start = rng.randrange(0, SPAN - size)
        stamps = sorted(rng.sample(range(start, min(SPAN, start + size * 2)), size))
        # Every value names its request and its place in it, so a stray point is traceable.
        points[tag] = {BASE + t: float(number * 100_000 + i) for i, t in enumerate(stamps)}
    return Batch(number, rng.choice(MODES), points)


def stored(url: str) -> State:
    reply = httpx.get(
        f"{url}{URL_PATH}",
        headers=HEADERS,
        params={"node_id": 1, "tags": ",".join(TAGS), "epoch": 1},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    assert "link" not in reply.headers, "the check expects one page"
    found: State = {}
    for series in reply.json()["timeseries"]:
        found[series["tag"]] = {int(p["ts"]): float(p["v"]) for p in series["data"]}
    return found


def difference(expected: State, got: State) -> str:
    lines = []
    for tag in sorted(set(expected) | set(got)):
        want, have = expected.get(tag, {}), got.get(tag, {})
        missing = [t for t in want if t not in have]
        extra = [t for t in have if t not in want]
        wrong = [t for t in want if t in have and want[t] != have[t]]
        if missing or extra or wrong:
            lines.append(f"{tag}: {len(missing)} missing, {len(extra)} extra, {len(wrong)} differ")
    return "; ".join(lines)


def same(expected: State, got: State) -> bool:
    return {t: p for t, p in expected.items() if p} == {t: p for t, p in got.items() if p}


def write_until_killed(
    url: str, rng: random.Random, numbers: list[int], state: State
) -> tuple[State, Batch | None, int]:
    """Write batches until the server is gone: the state acknowledged, the batch in flight."""
    acknowledged = 0
    with httpx.Client(base_url=url, headers=HEADERS, timeout=60) as client:
        while True:
            numbers[0] += 1
            batch = make_batch(rng, numbers[0])
            params = {"overwrite": batch.mode} if batch.mode else {}
            try:
                reply = client.post(
                    URL_PATH, params={**params, "silent": "true"}, json=batch.body()
                )
            except httpx.TransportError:
                return state, batch, acknowledged
            assert reply.status_code == 204, reply.text
            state = batch.applied_to(state)
            acknowledged += 1


def restart(server: Server, rng: random.Random) -> int:
    """Start the server again; now and then kill it while it starts (replaying its log)."""
    server.stop()
    if rng.random() >= 0.15:
        server.start()
        return 0

    def kill_now() -> None:
        if server.process is not None:
            server.process.kill()

    timer = threading.Timer(rng.uniform(0.0, 1.0), kill_now)
    timer.start()
    try:
        server.start()
    except RuntimeError:
        pass  # killed before it answered
    timer.join()
    assert server.process is not None
    server.process.kill()  # if it came up first (a no-op on a dead process)
    server.process.wait(30)
    server.stop()
    server.start()
    return 1


@pytest.mark.server
@pytest.mark.timeout(1800)
def test_sigkill_loses_nothing_acknowledged(server: Server) -> None:
    rng = random.Random(SEED)
    state: State = {}
    numbers = [0]
    acknowledged = applied_in_flight = kills_at_start = 0
    for kill in range(KILLS):
        assert server.process is not None
        # A fresh server answers within tens of milliseconds, so these delays land before,
        # during and after commits, and in the big checkpointed ones.
        timer = threading.Timer(rng.uniform(0.05, 0.6), server.process.kill)
        timer.start()
        state, in_flight, count = write_until_killed(server.url, rng, numbers, state)
        timer.join()
        server.process.wait(30)
        acknowledged += count
        kills_at_start += restart(server, rng)

        got = stored(server.url)
        with_it = in_flight.applied_to(state) if in_flight else state
        if same(with_it, got) and not same(state, got):
            state = with_it
            applied_in_flight += 1
        else:
            assert same(state, got), (
                f"after kill {kill + 1}: the store matches neither the acknowledged writes "
                f"({difference(state, got)}) nor them plus the request in flight "
                f"({difference(with_it, got)})"
            )
    assert same(state, stored(server.url))
    print(
        f"\n{KILLS} kills while writing and {kills_at_start} while starting survived: "
        f"{acknowledged} acknowledged requests, "
        f"{sum(len(p) for p in state.values())} points stored as expected; "
        f"the request in flight was stored whole {applied_in_flight} times, else not at all"
    )
