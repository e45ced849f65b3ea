"""v2 aggregates for every precision and aggregate, checked against buckets computed here
independently with zoneinfo and the calendar."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.api.v2util import bulk_write, make_series
from tests.conftest import Tenant
from wattbase.model.query import Precision
from wattbase.storage.base import Store

STOCKHOLM = ZoneInfo("Europe/Stockholm")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIXED = {
    "microseconds": 1, "milliseconds": 1_000, "second": 10**6, "minute": 60 * 10**6,
    "minute5": 300 * 10**6, "minute10": 600 * 10**6, "minute15": 900 * 10**6,
    "minute20": 1200 * 10**6, "minute30": 1800 * 10**6, "hour": 3600 * 10**6,
}  # fmt: skip


def _instant(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def _bucket(micros: int, precision: str, tz: ZoneInfo) -> str:
    """The start of the bucket holding the instant, as the API should print it."""
    if precision in FIXED:
        # Stockholm's offsets are whole hours, so these buckets sit on UTC boundaries.
        width = FIXED[precision]
        start = _instant(micros - micros % width).astimezone(tz)
        return start.isoformat(timespec="microseconds" if width < 10**6 else "seconds")
    local = _instant(micros).astimezone(tz)
    day = local.date()
    if precision == "week":
        day -= timedelta(days=day.weekday())
    y = day.year
    first = {
        "day": day,
        "week": day,
        "month": day.replace(day=1),
        "year": day.replace(month=1, day=1),
        "decade": day.replace(year=y - y % 10, month=1, day=1),
        "century": day.replace(year=y - y % 100, month=1, day=1),
        "millennia": day.replace(year=y - y % 1000, month=1, day=1),
    }[precision]
    return _printable(datetime(first.year, first.month, first.day, tzinfo=tz))


def _printable(when: datetime) -> str:
    # RFC 3339 offsets have no seconds: local mean time (+01:12:12) is printed in UTC.
    offset = when.utcoffset()
    if offset is not None and offset.seconds % 60:
        return when.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return when.isoformat()


def _sample() -> tuple[np.ndarray, np.ndarray]:
    """Instants from 1950 to 2060, dense around both 2023 DST changes, some sub-millisecond."""
    rng = np.random.default_rng(7)
    lo = int((datetime(1950, 1, 1, tzinfo=UTC) - EPOCH).total_seconds()) * 10**6
    hi = int((datetime(2060, 1, 1, tzinfo=UTC) - EPOCH).total_seconds()) * 10**6
    spread = rng.integers(lo, hi, 3000) // 10**6 * 10**6
    dst = []
    for day in (datetime(2023, 3, 25, tzinfo=UTC), datetime(2023, 10, 28, tzinfo=UTC)):
        base = int((day - EPOCH).total_seconds()) * 10**6
        dst.append(base + np.arange(0, 3 * 86_400, 600, dtype=np.int64) * 10**6)
    fine = int((datetime(2023, 6, 1, tzinfo=UTC) - EPOCH).total_seconds()) * 10**6
    micro = fine + np.array([0, 1, 2, 999, 1000, 1500, 10**6 - 1, 10**6 + 3], dtype=np.int64)
    ts = np.unique(np.concatenate([spread, *dst, micro]))
    v = rng.integers(-50, 50, len(ts)).astype(np.float64)
    return ts, v


def _expected(
    ts: np.ndarray, v: np.ndarray, precision: str, aggregate: str
) -> list[dict[str, object]]:
    groups: dict[str, list[float]] = defaultdict(list)
    for t, x in zip(ts.tolist(), v.tolist(), strict=True):
        groups[_bucket(t, precision, STOCKHOLM)].append(x)
    fold = {"avg": lambda xs: sum(xs) / len(xs), "min": min, "max": max, "sum": sum, "count": len}
    out = [(_parse(k), k, float(fold[aggregate](xs))) for k, xs in groups.items()]
    return [{"v": x, "ts": k} for _, k, x in sorted(out)]


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize("precision", [p.value for p in Precision])
def test_every_precision_counts_and_sums(
    client: TestClient, store: Store, demo: Tenant, precision: str
) -> None:
    uuid = make_series(client, demo)["uuid"]
    ts, v = _sample()
    bulk_write(store, uuid, ts, v)
    for aggregate in ("count", "sum"):
        reply = client.get(
            f"/api/v2/timeseries/{uuid}/data",
            params={"precision": precision, "aggregate": aggregate},
            headers=demo.basic_header,
        )
        assert reply.status_code == 200, reply.text
        assert reply.json() == _expected(ts, v, precision, aggregate), aggregate


@pytest.mark.parametrize("aggregate", ["avg", "min", "max", "sum", "count"])
@pytest.mark.parametrize("precision", ["hour", "day", "week", "month"])
def test_every_aggregate(
    client: TestClient, store: Store, demo: Tenant, aggregate: str, precision: str
) -> None:
    uuid = make_series(client, demo)["uuid"]
    ts, v = _sample()
    keep = (ts >= 1_672_531_200 * 10**6) & (ts < 1_704_067_200 * 10**6)  # 2023
    bulk_write(store, uuid, ts[keep], v[keep])
    reply = client.get(
        f"/api/v2/timeseries/{uuid}/data",
        params={"precision": precision, "aggregate": aggregate, "timezone": "Europe/Stockholm"},
        headers=demo.basic_header,
    )
    got = reply.json()
    want = _expected(ts[keep], v[keep], precision, aggregate)
    assert [p["ts"] for p in got] == [p["ts"] for p in want]
    assert [p["v"] for p in got] == pytest.approx([p["v"] for p in want])


def test_a_year_of_minutes_in_stockholm(client: TestClient, store: Store, demo: Tenant) -> None:
    uuid = make_series(client, demo)["uuid"]
    start = int((datetime(2023, 1, 1, tzinfo=STOCKHOLM) - EPOCH).total_seconds())
    end = int((datetime(2024, 1, 1, tzinfo=STOCKHOLM) - EPOCH).total_seconds())
    ts = np.arange(start, end, 60, dtype=np.int64) * 10**6
    bulk_write(store, uuid, ts, np.ones(len(ts)))
    url, h = f"/api/v2/timeseries/{uuid}/data", demo.basic_header

    days = client.get(url, params={"precision": "day", "aggregate": "sum"}, headers=h).json()
    assert len(days) == 365
    by_day = {d["ts"][:10]: d["v"] for d in days}
    assert by_day["2023-03-26"] == 1380 and by_day["2023-10-29"] == 1500
    for d in days:
        local = datetime.fromisoformat(d["ts"])
        minutes = (
            (local + timedelta(days=1)).replace(tzinfo=STOCKHOLM) - local
        ).total_seconds() / 60
        assert local.hour == 0 and local.tzinfo is not None and d["v"] == minutes

    months = client.get(url, params={"precision": "month", "aggregate": "sum"}, headers=h).json()
    want = []
    for m in range(1, 13):
        a = datetime(2023, m, 1, tzinfo=STOCKHOLM)
        b = datetime(2023 + m // 12, m % 12 + 1, 1, tzinfo=STOCKHOLM)
        want.append(
            {"v": (b.astimezone(UTC) - a.astimezone(UTC)).total_seconds() / 60, "ts": a.isoformat()}
        )
    assert months == want

    hours = client.get(url, params={"precision": "hour", "aggregate": "count"}, headers=h).json()
    assert len(hours) == 8760 and {p["v"] for p in hours} == {60.0}
    weeks = client.get(url, params={"precision": "week", "aggregate": "sum"}, headers=h).json()
    assert all(datetime.fromisoformat(w["ts"]).weekday() == 0 for w in weeks)
    assert sum(w["v"] for w in weeks) == len(ts)
    utc_days = client.get(
        url, params={"precision": "day", "aggregate": "sum", "timezone": "UTC"}, headers=h
    ).json()
    assert {p["v"] for p in utc_days[1:-1]} == {1440.0} and utc_days[0][
        "ts"
    ] == "2022-12-31T00:00:00Z"
    year = client.get(url, params={"precision": "year", "aggregate": "avg"}, headers=h).json()
    assert year == [{"v": 1.0, "ts": "2023-01-01T00:00:00+01:00"}]
