"""v2 point data: both payload shapes, modes, units, bounds, deletes, tsquery, raw paging."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.v2util import make_series
from tests.conftest import Tenant, settings_for
from wattbase.api import create_app
from wattbase.storage.base import Store

SEED = [
    {"timestamp": "2023-07-01T00:00:00Z", "value": 23.5},
    {"timestamp": "2023-07-01T01:00:00Z", "value": 24.0},
]
AS_VTS = [{"v": 23.5, "ts": "2023-07-01T00:00:00Z"}, {"v": 24.0, "ts": "2023-07-01T01:00:00Z"}]


def _data(client: TestClient, demo: Tenant, uuid: str, **params: object) -> list[dict[str, object]]:
    reply = client.get(f"/api/v2/timeseries/{uuid}/data", params=params, headers=demo.basic_header)
    assert reply.status_code == 200, reply.text
    data: list[dict[str, object]] = reply.json()
    return data


@pytest.mark.parametrize("body", [SEED, AS_VTS], ids=["timestamp-value", "v-ts"])
def test_both_shapes_store_the_same_points(client: TestClient, demo: Tenant, body: object) -> None:
    uuid = make_series(client, demo)["uuid"]
    reply = client.post(f"/api/v2/timeseries/{uuid}/data", json=body, headers=demo.basic_header)
    assert reply.status_code == 201
    assert reply.json() == {
        "uuid": uuid, "inserted": 2, "updated": 0, "deleted": 0,
        "skipped": 0, "conflicting": 0, "out_of_bounds": 0,
    }  # fmt: skip
    assert _data(client, demo, uuid) == AS_VTS


def test_offsets_are_kept_and_naive_times_rejected(client: TestClient, demo: Tenant) -> None:
    uuid = make_series(client, demo)["uuid"]
    url, h = f"/api/v2/timeseries/{uuid}/data", demo.basic_header
    body = [{"v": 1.0, "ts": "2023-07-01T02:00:00+02:00"}, {"v": 2.0, "ts": "2023-07-01T01:00:00"}]
    naive = client.post(url, json=body, headers=h)
    assert naive.status_code == 400 and naive.json()["param"] == "[1].ts"
    assert _data(client, demo, uuid) == []
    assert client.post(url, json=body[:1], headers=h).status_code == 201
    assert _data(client, demo, uuid) == [{"v": 1.0, "ts": "2023-07-01T00:00:00Z"}]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (
            [{"v": 1.0, "ts": "2023-01-01T00:00:00Z"}] * 3 + [{"v": 1.0, "ts": "yesterday"}],
            "[3].ts",
        ),
        (
            [{"v": 1.0, "ts": "2023-01-01T00:00:00Z"}, {"v": "x", "ts": "2023-01-01T00:00:00Z"}],
            "[1].v",
        ),
        ([{"ts": "2023-01-01T00:00:00Z"}], "[0].v"),
        ([{"value": 1.0}], "[0].ts"),
        ({"v": 1.0}, None),
    ],
)
def test_bad_points_reject_the_request(
    client: TestClient, demo: Tenant, body: object, param: str | None
) -> None:
    uuid = make_series(client, demo)["uuid"]
    reply = client.post(f"/api/v2/timeseries/{uuid}/data", json=body, headers=demo.basic_header)
    assert reply.status_code == 400
    assert reply.json()["param"] == param
    assert _data(client, demo, uuid) == []


def test_overwrite_modes(client: TestClient, demo: Tenant) -> None:
    uuid = make_series(client, demo)["uuid"]
    url, h = f"/api/v2/timeseries/{uuid}/data", demo.basic_header
    first = [{"v": float(i), "ts": f"2023-01-01T0{i}:00:00Z"} for i in range(4)]
    assert client.post(url, json=first, headers=h).status_code == 201
    again = client.post(url, json=[{"v": 9.0, "ts": "2023-01-01T01:00:00Z"}], headers=h).json()
    assert (again["skipped"], again["conflicting"]) == (1, 1)
    upd = client.post(
        url,
        params={"overwrite": "update_window"},
        json=[{"v": 9.0, "ts": "2023-01-01T01:00:00Z"}],
        headers=h,
    )
    assert upd.json()["updated"] == 1
    rep = client.post(
        url,
        params={"overwrite": "replace_window"},
        json=[{"v": 7.0, "ts": "2023-01-01T00:30:00Z"}, {"v": 8.0, "ts": "2023-01-01T02:00:00Z"}],
        headers=h,
    ).json()
    assert (rep["deleted"], rep["inserted"]) == (2, 2)
    assert [p["v"] for p in _data(client, demo, uuid)] == [0.0, 7.0, 8.0, 3.0]


def test_units_round_trip(client: TestClient, demo: Tenant) -> None:
    h = demo.basic_header
    energy = make_series(client, demo, name="energy", si_unit="MWh")["uuid"]
    body = [{"v": 1500.0, "ts": "2023-01-01T00:00:00Z"}, {"v": 250.0, "ts": "2023-01-01T01:00:00Z"}]
    assert (
        client.post(
            f"/api/v2/timeseries/{energy}/data", params={"unit": "kWh"}, json=body, headers=h
        ).status_code
        == 201
    )
    assert [p["v"] for p in _data(client, demo, energy)] == [1.5, 0.25]
    assert [p["v"] for p in _data(client, demo, energy, unit="kWh")] == [1500.0, 250.0]
    assert [p["v"] for p in _data(client, demo, energy, unit="GJ")] == pytest.approx([5.4, 0.9])
    # ge/le are in the unit asked for.
    assert [p["v"] for p in _data(client, demo, energy, unit="kWh", ge=1000)] == [1500.0]
    day = _data(client, demo, energy, unit="kWh", precision="day", aggregate="sum", timezone="UTC")
    assert day == [{"v": 1750.0, "ts": "2023-01-01T00:00:00Z"}]
    count = _data(
        client, demo, energy, unit="kWh", precision="day", aggregate="count", timezone="UTC"
    )
    assert count == [{"v": 2.0, "ts": "2023-01-01T00:00:00Z"}]

    temp = make_series(client, demo, name="temp", si_unit="°C")["uuid"]
    hot = [{"v": 212.0, "ts": "2023-01-01T00:00:00Z"}, {"v": -40.0, "ts": "2023-01-01T01:00:00Z"}]
    assert (
        client.post(
            f"/api/v2/timeseries/{temp}/data", params={"unit": "degF"}, json=hot, headers=h
        ).status_code
        == 201
    )
    assert [p["v"] for p in _data(client, demo, temp)] == pytest.approx([100.0, -40.0])
    assert [p["v"] for p in _data(client, demo, temp, unit="F")] == pytest.approx([212.0, -40.0])
    assert [p["v"] for p in _data(client, demo, temp, unit="K")] == pytest.approx([373.15, 233.15])
    avg = _data(client, demo, temp, unit="°F", precision="day", timezone="UTC")
    assert [p["v"] for p in avg] == pytest.approx([86.0])

    flow = make_series(client, demo, name="flow", si_unit="m³/h")["uuid"]
    one = [{"v": 3.6, "ts": "2023-01-01T00:00:00Z"}]
    assert client.post(f"/api/v2/timeseries/{flow}/data", json=one, headers=h).status_code == 201
    assert [p["v"] for p in _data(client, demo, flow, unit="l/s")] == pytest.approx([1.0])


@pytest.mark.parametrize(
    ("si_unit", "unit", "params"),
    [
        ("kWh", "kW", {}),
        ("kWh", "parsecs per fortnight", {}),
        (None, "kWh", {}),
        ("°C", "°F", {"precision": "day", "aggregate": "sum"}),
    ],
)
def test_unit_errors_are_400(
    client: TestClient, demo: Tenant, si_unit: str | None, unit: str, params: dict[str, str]
) -> None:
    uuid = make_series(client, demo, si_unit=si_unit)["uuid"]
    url, h = f"/api/v2/timeseries/{uuid}/data", demo.basic_header
    for reply in (
        client.get(url, params={"unit": unit, **params}, headers=h),
        client.post(url, params={"unit": unit}, json=AS_VTS, headers=h) if not params else None,
    ):
        if reply is None:
            continue
        assert reply.status_code == 400, reply.text
        assert reply.json()["type"] == "invalid_unit" and reply.json()["param"] == "unit"
        if si_unit:
            assert si_unit in reply.json()["error"] and unit in reply.json()["error"]


def test_bounds_filter_and_204(client: TestClient, demo: Tenant) -> None:
    uuid = make_series(client, demo, lower_bound=0, upper_bound=100)["uuid"]
    url, h = f"/api/v2/timeseries/{uuid}/data", demo.basic_header
    body = [
        {"v": v, "ts": f"2023-01-01T0{i}:00:00Z"}
        for i, v in enumerate([-1.0, 0.0, 50.0, 100.0, 101.0])
    ]
    reply = client.post(url, json=body, headers=h)
    assert reply.status_code == 201
    assert (reply.json()["inserted"], reply.json()["out_of_bounds"]) == (3, 2)
    assert [p["v"] for p in _data(client, demo, uuid)] == [0.0, 50.0, 100.0]
    outside = client.post(url, json=[{"v": 500.0, "ts": "2023-01-02T00:00:00Z"}], headers=h)
    assert outside.status_code == 204 and outside.content == b""
    assert len(_data(client, demo, uuid)) == 3
    # Bounds hold in the series' unit: 0.2 MWh is 200 kWh, above 100.
    make = client.put(f"/api/v2/timeseries/{uuid}", json={"si_unit": "kWh"}, headers=h)
    assert make.status_code == 200
    converted = client.post(
        url, params={"unit": "MWh"}, json=[{"v": 0.2, "ts": "2023-01-03T00:00:00Z"}], headers=h
    )
    assert converted.status_code == 204


def test_value_filters_and_delete(client: TestClient, demo: Tenant) -> None:
    uuid = make_series(client, demo)["uuid"]
    url, h = f"/api/v2/timeseries/{uuid}/data", demo.basic_header
    body = [{"v": float(i), "ts": f"2023-01-01T{i:02d}:00:00Z"} for i in range(10)]
    assert client.post(url, json=body, headers=h).status_code == 201
    assert [p["v"] for p in _data(client, demo, uuid, ge=3, le=5)] == [3.0, 4.0, 5.0]
    assert [p["v"] for p in _data(client, demo, uuid, ge=8, le=1)] == [0.0, 1.0, 8.0, 9.0]
    window = _data(client, demo, uuid, start="2023-01-01T02:00:00Z", end="2023-01-01T04:00:00Z")
    assert [p["v"] for p in window] == [2.0, 3.0]
    # Unencoded '+' arrives as a space; it still means an offset.
    plus = client.get(f"{url}?start=2023-01-01T10:00:00+02:00", headers=h).json()
    assert [p["v"] for p in plus] == [8.0, 9.0]

    gone = client.delete(
        url,
        params={"start": "2023-01-01T01:00:00Z", "end": "2023-01-01T09:00:00Z", "ge": 6},
        headers=h,
    )
    assert gone.status_code == 204
    assert [p["v"] for p in _data(client, demo, uuid)] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 9.0]
    assert client.delete(url, params={"le": 2}, headers=h).status_code == 204
    assert [p["v"] for p in _data(client, demo, uuid)] == [3.0, 4.0, 5.0, 9.0]
    assert client.delete(url, headers=h).status_code == 204
    assert _data(client, demo, uuid) == []


def test_tsquery(client: TestClient, demo: Tenant) -> None:
    h = demo.basic_header
    a = make_series(client, demo, name="a", si_unit="kWh")["uuid"]
    b = make_series(client, demo, name="b", si_unit="MWh")["uuid"]
    client.post(
        f"/api/v2/timeseries/{a}/data", json=[{"v": 500.0, "ts": "2023-01-01T00:00:00Z"}], headers=h
    )
    client.post(
        f"/api/v2/timeseries/{b}/data", json=[{"v": 2.0, "ts": "2023-01-01T00:00:00Z"}], headers=h
    )
    reply = client.get(
        "/api/v2/tsquery", params={"uuids": f"{b},{a},{b}", "unit": "kWh"}, headers=h
    )
    assert reply.status_code == 200
    assert reply.json() == [
        {"uuid": b, "data": [{"v": 2000.0, "ts": "2023-01-01T00:00:00Z"}]},
        {"uuid": a, "data": [{"v": 500.0, "ts": "2023-01-01T00:00:00Z"}]},
    ]
    monthly = client.get("/api/v2/tsquery", params={"uuids": a, "precision": "month"}, headers=h)
    assert monthly.json() == [
        {"uuid": a, "data": [{"v": 500.0, "ts": "2023-01-01T00:00:00+01:00"}]}
    ]
    many = ",".join(f"00000000-0000-4000-8000-{i:012d}" for i in range(101))
    assert client.get("/api/v2/tsquery", params={"uuids": many}, headers=h).status_code == 400
    assert client.get("/api/v2/tsquery", params={"uuids": "nope"}, headers=h).status_code == 400
    missing = client.get(
        "/api/v2/tsquery", params={"uuids": f"{a},00000000-0000-4000-8000-000000000000"}, headers=h
    )
    assert missing.status_code == 404


def test_raw_reads_page_by_link(store: Store, demo: Tenant, tmp_path: Path) -> None:
    settings = settings_for("embedded", tmp_path, max_raw_points=7)
    with TestClient(create_app(settings, store=store)) as client:
        h = demo.basic_header
        a = make_series(client, demo, name="a")["uuid"]
        b = make_series(client, demo, name="b")["uuid"]
        sent = [{"v": float(i), "ts": f"2023-01-01T00:{i:02d}:00Z"} for i in range(50)]
        client.post(f"/api/v2/timeseries/{a}/data", json=sent, headers=h)
        client.post(f"/api/v2/timeseries/{b}/data", json=sent[::3], headers=h)

        def follow(url: str) -> tuple[list[object], int]:
            got: list[object] = []
            pages = 0
            next_url: str | None = url
            while next_url:
                reply = client.get(next_url, headers=h)
                assert reply.status_code == 200
                got.extend(reply.json())
                pages += 1
                next_url = reply.links.get("next", {}).get("url")
            return got, pages

        got, pages = follow(f"/api/v2/timeseries/{a}/data?start=2023-01-01T00:00:00Z")
        assert got == sent and pages == 8
        batches, _ = follow(f"/api/v2/tsquery?uuids={a},{b}")
        by_series: dict[str, list[object]] = {a: [], b: []}
        for item in batches:
            assert isinstance(item, dict)
            by_series[item["uuid"]].extend(item["data"])
        assert by_series == {a: sent, b: sent[::3]}


def test_bucketed_answers_over_the_cap_are_refused(
    store: Store, demo: Tenant, tmp_path: Path
) -> None:
    settings = settings_for("embedded", tmp_path, max_raw_points=7)
    with TestClient(create_app(settings, store=store)) as client:
        h = demo.basic_header
        a = make_series(client, demo, name="a")["uuid"]
        sent = [{"v": float(i), "ts": f"2023-01-01T00:{i:02d}:00Z"} for i in range(50)]
        client.post(f"/api/v2/timeseries/{a}/data", json=sent, headers=h)
        for zone in ("UTC", "Europe/Stockholm"):
            url = f"/api/v2/timeseries/{a}/data"
            ask = {"precision": "minute", "aggregate": "sum", "timezone": zone}
            refused = client.get(url, params=ask, headers=h)
            assert refused.status_code == 400, zone
            assert refused.json()["param"] == "precision" and "50 buckets" in refused.text
            hourly = client.get(url, params={**ask, "precision": "hour"}, headers=h)
            assert hourly.status_code == 200 and len(hourly.json()) == 1
