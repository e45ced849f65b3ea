"""``GET /demo/api/v1/timeseries``: buckets, aggregates, epoch, ranges and paging.

Expected answers are computed here with ``zoneinfo`` and plain Python, not by the server's
bucket code: demo lives in Europe/Stockholm, whose 2023-03-26 has 23 hours and whose
2023-10-29 has 25.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant, settings_for
from wattbase.api import create_app
from wattbase.storage.base import Store

URL = "/demo/api/v1/timeseries"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
MINUTE = timedelta(minutes=1)


def _local_midnight(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=STOCKHOLM).astimezone(UTC)


def _minutes(first_day: str, last_day: str) -> list[datetime]:
    """Every minute from local midnight of ``first_day`` up to local midnight of ``last_day``."""
    t, end = _local_midnight(first_day), _local_midnight(last_day)
    out = []
    while t < end:
        out.append(t)
        t += MINUTE
    return out


# Three local days around each DST change; the odd values make sums and means telling.
STAMPS = _minutes("2023-03-25", "2023-03-28") + _minutes("2023-10-28", "2023-10-31")
POINTS = [(t, float(i % 17)) for i, t in enumerate(STAMPS)]
# A few points far apart, placed just around local (not UTC) year boundaries.
SPARSE = [
    (datetime(1999, 12, 31, 22, 59, tzinfo=UTC), 1.0),  # 23:59 local, 1999
    (datetime(1999, 12, 31, 23, 0, tzinfo=UTC), 2.0),  # 00:00 local, 2000
    (datetime(2009, 12, 31, 23, 30, tzinfo=UTC), 4.0),  # 2010 local
    (datetime(2019, 6, 1, 12, 0, tzinfo=UTC), 8.0),
    (datetime(2100, 1, 1, 0, 0, tzinfo=UTC), 16.0),  # 01:00 local, 2100
]


def _z(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _post(client: TestClient, demo: Tenant, node: int, tag: str, points: list[Any]) -> None:
    data = [{"v": v, "ts": _z(t)} for t, v in points]
    body = [{"node_id": node, "tag": tag, "data": data}]
    reply = client.post(URL, headers=demo.key_header, json=body)
    assert reply.status_code == 200, reply.text


@pytest.fixture
def loaded(client: TestClient, demo: Tenant) -> TestClient:
    _post(client, demo, 1, "load", POINTS)
    _post(client, demo, 2, "sparse", SPARSE)
    return client


def _get(client: TestClient, demo: Tenant, **params: Any) -> list[tuple[datetime, float]]:
    reply = client.get(URL, headers=demo.key_header, params=params)
    assert reply.status_code == 200, reply.text
    (series,) = reply.json()["timeseries"]
    return [(datetime.fromisoformat(p["ts"]), p["v"]) for p in series["data"]]


# Independent bucketing: a function from an instant to the instant its bucket starts at.
Bucketer = Callable[[datetime], datetime]


def _fixed(seconds: int) -> Bucketer:
    # Stockholm's offsets are whole hours, so buckets up to an hour align as in UTC.
    def start(t: datetime) -> datetime:
        epoch = int(t.timestamp())
        return datetime.fromtimestamp(epoch - epoch % seconds, UTC)

    return start


def _calendar(cut: Callable[[datetime], datetime]) -> Bucketer:
    def start(t: datetime) -> datetime:
        local = t.astimezone(STOCKHOLM)
        return cut(local).replace(tzinfo=None).replace(tzinfo=STOCKHOLM).astimezone(UTC)

    return start


def _year_every(n: int) -> Bucketer:
    return _calendar(lambda d: datetime(d.year - d.year % n, 1, 1))


BUCKETS: dict[str, Bucketer] = {
    "second": _fixed(1),
    "minute": _fixed(60),
    "5minute": _fixed(300),
    "10minute": _fixed(600),
    "15minute": _fixed(900),
    "20minute": _fixed(1200),
    "30minute": _fixed(1800),
    "hour": _fixed(3600),
    "day": _calendar(lambda d: datetime(d.year, d.month, d.day)),
    "month": _calendar(lambda d: datetime(d.year, d.month, 1)),
    "year": _year_every(1),
    "decade": _year_every(10),
    "century": _year_every(100),
    "millennia": _year_every(1000),
}
AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "avg": statistics.fmean,
    "min": min,
    "max": max,
    "sum": lambda vs: float(sum(vs)),
    "count": lambda vs: float(len(vs)),
}


def _expected(
    points: list[tuple[datetime, float]], bucket: Bucketer, aggregate: str
) -> list[tuple[datetime, float]]:
    groups: dict[datetime, list[float]] = defaultdict(list)
    for t, v in points:
        groups[bucket(t)].append(v)
    return [(k, AGGREGATES[aggregate](groups[k])) for k in sorted(groups)]


def _same(got: list[tuple[datetime, float]], want: list[tuple[datetime, float]]) -> None:
    assert [t for t, _ in got] == [t for t, _ in want]
    assert [v for _, v in got] == pytest.approx([v for _, v in want])


def test_days_follow_local_midnight_across_dst(loaded: TestClient, demo: Tenant) -> None:
    got = _get(loaded, demo, node_id=1, tag="load", resolution="day", aggregate="count")
    counts = [int(v) for _, v in got]
    assert counts == [1440, 1380, 1440, 1440, 1500, 1440]
    days = _get(loaded, demo, node_id=1, tag="load", resolution="day", aggregate="sum")
    _same(days, _expected(POINTS, BUCKETS["day"], "sum"))
    # Each day starts at local midnight: +01:00 before the spring change, +02:00 after.
    assert days[1][0] == datetime(2023, 3, 25, 23, 0, tzinfo=UTC)
    assert days[2][0] == datetime(2023, 3, 26, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize("aggregate", list(AGGREGATES))
def test_every_aggregate_per_hour_and_day(loaded: TestClient, demo: Tenant, aggregate: str) -> None:
    for resolution in ("hour", "day"):
        got = _get(loaded, demo, node_id=1, tag="load", resolution=resolution, aggregate=aggregate)
        _same(got, _expected(POINTS, BUCKETS[resolution], aggregate))


@pytest.mark.parametrize("resolution", list(BUCKETS))
def test_every_resolution(loaded: TestClient, demo: Tenant, resolution: str) -> None:
    # Fine buckets over one DST night only, to keep answers small.
    lo = datetime(2023, 10, 28, 23, 30, tzinfo=UTC)
    hi = datetime(2023, 10, 29, 2, 30, tzinfo=UTC)
    window = [(t, v) for t, v in POINTS if lo <= t < hi]
    got = _get(
        loaded, demo, node_id=1, tag="load", resolution=resolution, aggregate="sum",
        start=_z(lo), end=_z(hi),
    )  # fmt: skip
    _same(got, _expected(window, BUCKETS[resolution], "sum"))
    sparse = _get(loaded, demo, node_id=2, tag="sparse", resolution=resolution, aggregate="sum")
    _same(sparse, _expected(SPARSE, BUCKETS[resolution], "sum"))


def test_epoch_gives_unix_seconds(loaded: TestClient, demo: Tenant) -> None:
    reply = loaded.get(
        URL, headers=demo.key_header, params={"node_id": 2, "tag": "sparse", "epoch": 1}
    )
    data = reply.json()["timeseries"][0]["data"]
    assert [p["ts"] for p in data] == [int(t.timestamp()) for t, _ in SPARSE]
    assert all(isinstance(p["ts"], int) for p in data)
    reply = loaded.get(
        URL,
        headers=demo.key_header,
        params={
            "node_id": 1,
            "tag": "load",
            "epoch": "1",
            "resolution": "day",
            "aggregate": "count",
        },
    )
    stamps = [p["ts"] for p in reply.json()["timeseries"][0]["data"]]
    assert stamps[:3] == [int(_local_midnight(f"2023-03-2{d}").timestamp()) for d in (5, 6, 7)]


def test_start_is_inclusive_and_end_exclusive(loaded: TestClient, demo: Tenant) -> None:
    first, last = STAMPS[100], STAMPS[160]
    got = _get(loaded, demo, node_id=1, tag="load", start=_z(first), end=_z(last))
    assert [t for t, _ in got] == STAMPS[100:160]
    # The same instants in another notation select the same points.
    local = first.astimezone(STOCKHOLM).isoformat()
    again = _get(loaded, demo, node_id=1, tag="load", start=local, end=_z(last))
    assert again == got
    assert _get(loaded, demo, node_id=1, tag="load", start=_z(first), end=_z(first)) == []


@pytest.fixture
def paged(tmp_path: Path, store: Store, demo: Tenant) -> Iterator[TestClient]:
    settings = settings_for("embedded", tmp_path, max_raw_points=700)
    with TestClient(create_app(settings, store=store)) as client:
        _post(client, demo, 1, "load", POINTS[:5000])
        _post(client, demo, 2, "load", POINTS[2500:3300])
        yield client


def test_link_paging_returns_every_point_once(paged: TestClient, demo: Tenant) -> None:
    url: str | None = f"{URL}?node_ids=1,2&tag=load"
    seen: dict[int, list[tuple[str, float]]] = {1: [], 2: []}
    pages = 0
    while url is not None:
        reply = paged.get(url, headers=demo.key_header)
        assert reply.status_code == 200, reply.text
        for series in reply.json()["timeseries"]:
            assert len(series["data"]) <= 700
            seen[series["node_id"]] += [(p["ts"], p["v"]) for p in series["data"]]
        link = reply.headers.get("Link")
        url = None if link is None else link[link.index("<") + 1 : link.index(">")]
        pages += 1
        assert pages < 50
    assert pages > 2
    assert seen[1] == [(_z(t), v) for t, v in POINTS[:5000]]
    assert seen[2] == [(_z(t), v) for t, v in POINTS[2500:3300]]
