"""Many small writes at once, as many clients send them, through the write engine: each is
stored once with its own counts, and one that fails fails alone (the writes share commits,
see storage/group_commit.py)."""

from __future__ import annotations

import threading
from uuid import uuid4

import numpy as np

from wattbase.core.access import authenticate, create_domain, create_key
from wattbase.core.reads import ReadSpec, read_series
from wattbase.core.series import SeriesDraft, create_series
from wattbase.core.things import ThingDraft, create_thing
from wattbase.core.writes import ByUuid, PointsIn, write_points
from wattbase.errors import NotFound
from wattbase.model.points import WriteMode
from wattbase.model.tenancy import ALL_SCOPES
from wattbase.storage.base import Store

THREADS, WRITES, POINTS = 8, 25, 10
MINUTE = 60_000_000


def test_concurrent_small_writes_land_once_and_a_failing_one_fails_alone(store: Store) -> None:
    create_domain(store, "busy", "UTC")
    _, secret = create_key(store, "busy", ALL_SCOPES)
    caller = authenticate(store, "busy", secret)
    thing = create_thing(store, caller, ThingDraft(name="meter"))
    series = [create_series(store, caller, thing.uuid, SeriesDraft(f"s{i}")) for i in range(4)]
    inserted: list[int] = []
    failed: list[int] = []
    unexpected: list[BaseException] = []

    def client(t: int) -> None:
        for k in range(WRITES):
            n = t * WRITES + k
            ts = (np.arange(POINTS, dtype=np.int64) + n * POINTS) * MINUTE
            # Every fifth write of every other client names a series that does not exist.
            missing = t % 2 == 0 and k % 5 == 0
            target = ByUuid(uuid4() if missing else series[n % 4].uuid)
            batch = PointsIn(target, ts, np.full(POINTS, float(n)), "[0]")
            try:
                reports = write_points(store, caller, [batch], WriteMode.INSERT)
            except NotFound:
                failed.append(n)
            except BaseException as exc:  # noqa: BLE001 - reported by the assert below
                unexpected.append(exc)
            else:
                inserted.append(reports[0].counts.inserted)

    threads = [threading.Thread(target=client, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)

    assert unexpected == []
    missing = sorted(t * WRITES + k for t in range(0, THREADS, 2) for k in range(0, WRITES, 5))
    assert sorted(failed) == missing
    assert inserted == [POINTS] * (THREADS * WRITES - len(missing))
    with store.read() as session:
        for i, s in enumerate(series):
            page = read_series(session, s, ReadSpec(limit=100_000))
            expected = [
                n
                for n in range(THREADS * WRITES)
                if n % 4 == i and n not in set(missing)
                for _ in range(POINTS)
            ]
            # Each write's points hold its number: every one landed once, none twice.
            assert sorted(page.v.tolist()) == sorted(float(n) for n in expected)
            assert len(np.unique(page.ts)) == len(page.ts)
