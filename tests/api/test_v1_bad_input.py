"""Bad input to ``POST /demo/api/v1/timeseries``: a clear error naming the place, nothing stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import snapshot
from tests.conftest import Tenant, settings_for
from wattbase.api import create_app
from wattbase.storage.base import Store

URL = "/demo/api/v1/timeseries"
GOOD = {"node_id": 1, "tag": "power", "data": [{"v": 1.0, "ts": "2023-01-01T00:00:00Z"}]}


def _series(
    data: list[dict[str, object]], node: object = 2, tag: str = "power"
) -> dict[str, object]:
    return {"node_id": node, "tag": tag, "data": data}


def _points(n: int) -> list[dict[str, object]]:
    return [{"v": float(i), "ts": f"2023-01-01T00:{i:02d}:00Z"} for i in range(n)]


@pytest.fixture
def seeded(client: TestClient, demo: Tenant) -> TestClient:
    """The demo domain with one stored point, so 'unchanged' is not just 'empty'."""
    reply = client.post(URL, headers=demo.key_header, json=[GOOD])
    assert reply.status_code == 200, reply.text
    return client


def _with(point: int, **change: object) -> list[dict[str, object]]:
    points = _points(20)
    points[point] = {**points[point], **change}
    return points


# Each case: raw body, expected status, expected param. The good series comes first, so a
# write that stored it before failing on the second would show in the snapshot.
CASES = {
    "malformed json": (b'[{"node_id": 1, "tag": "power", "data": [', 400, None),
    "value is a string": (
        json.dumps([GOOD, _series(_with(17, v="abc"))]).encode(),
        400,
        "[1].data[17].v",
    ),
    "NaN literal": (
        json.dumps([GOOD, _series(_with(17, v=float("nan")))]).encode(),
        400,
        "[1].data[17].v",
    ),
    "Infinity literal": (
        json.dumps([GOOD, _series(_with(3, v=float("inf")))]).encode(),
        400,
        "[1].data[3].v",
    ),
    "1e999 overflows": (
        json.dumps([GOOD, _series(_points(5))]).replace('"v": 4.0', '"v": 1e999').encode(),
        400,
        "[1].data[4].v",
    ),
    "ts does not parse": (
        json.dumps([GOOD, _series(_with(17, ts="yesterday"))]).encode(),
        400,
        "[1].data[17].ts",
    ),
    "ts month 13": (
        json.dumps([GOOD, _series(_with(0, ts="2023-13-01T00:00:00Z"))]).encode(),
        400,
        "[1].data[0].ts",
    ),
    "ts missing": (
        json.dumps([GOOD, _series([{"v": 1.0}])]).encode(),
        400,
        "[1].data[0]",
    ),
    "unknown node": (
        json.dumps([GOOD, _series(_points(2), node=4711)]).encode(),
        404,
        "[1].node_id",
    ),
    "unknown node uuid": (
        json.dumps(
            [GOOD, _series(_points(2), node="00000000-0000-0000-0000-000000000000")]
        ).encode(),
        404,
        "[1].node_id",
    ),
    "node id not a node ref": (
        json.dumps([GOOD, _series(_points(2), node="boiler")]).encode(),
        400,
        "[1].node_id",
    ),
    "empty tag": (json.dumps([GOOD, _series(_points(2), tag="")]).encode(), 400, "[1].tag"),
    "blank tag": (json.dumps([GOOD, _series(_points(2), tag="  ")]).encode(), 400, "[1].tag"),
    "not a list": (json.dumps(GOOD).encode(), 400, None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_body_is_rejected_and_nothing_is_stored(
    seeded: TestClient, demo: Tenant, store: Store, case: str
) -> None:
    body, status, param = CASES[case]
    before = snapshot(store, "demo")
    headers = {**demo.key_header, "Content-Type": "application/json"}
    reply = seeded.post(URL, headers=headers, content=body)
    assert reply.status_code == status, reply.text
    error = reply.json()
    assert error["code"] == status
    assert error["param"] == param
    assert error["error"]
    assert snapshot(store, "demo") == before


def test_wrong_overwrite_value_names_the_parameter(
    seeded: TestClient, demo: Tenant, store: Store
) -> None:
    before = snapshot(store, "demo")
    reply = seeded.post(
        URL, headers=demo.key_header, params={"overwrite": "sometimes"}, json=[_series(_points(3))]
    )
    assert reply.status_code == 400
    assert reply.json()["param"] == "overwrite"
    assert snapshot(store, "demo") == before


def test_start_that_does_not_parse_names_the_parameter(seeded: TestClient, demo: Tenant) -> None:
    reply = seeded.get(URL, headers=demo.key_header, params={"node_id": 1, "start": "soon"})
    assert reply.status_code == 400
    assert reply.json()["param"] == "start"


def test_naive_timestamps_are_read_in_the_domains_zone(seeded: TestClient, demo: Tenant) -> None:
    # demo lives in Europe/Stockholm: UTC+1 in winter, UTC+2 in summer.
    data = [{"v": 1.0, "ts": "2023-01-10T12:00:00"}, {"v": 2.0, "ts": "2023-07-10T12:00:00"}]
    reply = seeded.post(URL, headers=demo.key_header, json=[_series(data, tag="naive")])
    assert reply.status_code == 200, reply.text
    reply = seeded.get(URL, headers=demo.key_header, params={"node_id": 2, "tag": "naive"})
    assert reply.json()["timeseries"][0]["data"] == [
        {"v": 1.0, "ts": "2023-01-10T11:00:00Z"},
        {"v": 2.0, "ts": "2023-07-10T10:00:00Z"},
    ]
    # A naive start is local too: 12:00 Stockholm in July is 10:00Z, so only the summer point.
    reply = seeded.get(
        URL,
        headers=demo.key_header,
        params={"node_id": 2, "tag": "naive", "start": "2023-07-10T12:00:00"},
    )
    assert [p["v"] for p in reply.json()["timeseries"][0]["data"]] == [2.0]


@pytest.fixture
def small_app(tmp_path: Path, store: Store, demo: Tenant) -> Iterator[TestClient]:
    settings = settings_for("embedded", tmp_path, max_body_bytes=1000)
    with TestClient(create_app(settings, store=store)) as test_client:
        yield test_client


def test_body_over_the_limit_by_content_length(
    small_app: TestClient, demo: Tenant, store: Store
) -> None:
    before = snapshot(store, "demo")
    body = json.dumps([_series(_points(40))]).encode()
    assert len(body) > 1000
    headers = {**demo.key_header, "Content-Type": "application/json"}
    reply = small_app.post(URL, headers=headers, content=body)
    assert reply.status_code == 413
    assert reply.json()["type"] == "payload_too_large"
    assert "1000" in reply.json()["error"]
    assert snapshot(store, "demo") == before


def test_body_over_the_limit_when_chunked(
    small_app: TestClient, demo: Tenant, store: Store
) -> None:
    before = snapshot(store, "demo")
    body = json.dumps([_series(_points(40))]).encode()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 100):
            yield body[i : i + 100]

    headers = {**demo.key_header, "Content-Type": "application/json"}
    reply = small_app.post(URL, headers=headers, content=chunks())
    assert reply.status_code == 413
    assert reply.json()["code"] == 413
    assert snapshot(store, "demo") == before


def test_body_under_the_limit_is_stored(small_app: TestClient, demo: Tenant, store: Store) -> None:
    reply = small_app.post(URL, headers=demo.key_header, json=[_series(_points(3))])
    assert reply.status_code == 200, reply.text
    assert any(
        name == "power" and len(pts) == 3 for (_, name), pts in snapshot(store, "demo").items()
    )
