"""Each request limit, on each face it applies to, answered in that face's error shape."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.apollo_helpers import bearer, token
from tests.api.helpers import snapshot
from tests.api.v2util import make_series
from tests.conftest import Tenant, settings_for
from wattbase.api import create_app
from wattbase.storage.base import Store

Open = Callable[..., Any]


@pytest.fixture
def app_with(backend: str, tmp_path: Path, store: Store, demo: Tenant) -> Open:
    """A client on the fixture's store (demo domain in it) with some settings changed."""

    @contextmanager
    def opened(**overrides: object) -> Iterator[TestClient]:
        settings = settings_for(backend, tmp_path, **overrides)
        with TestClient(create_app(settings, store=store)) as client:
            yield client

    return opened


def _v1_points(n: int) -> list[dict[str, Any]]:
    data = [{"v": float(i), "ts": f"2023-01-01T00:00:{i:02d}Z"} for i in range(n)]
    return [{"node_id": 1, "tag": "t", "data": data}]


def _v2_points(n: int) -> list[dict[str, Any]]:
    return [{"v": float(i), "ts": f"2023-01-01T00:00:{i:02d}Z"} for i in range(n)]


def _samples(series: str, n: int) -> list[dict[str, Any]]:
    return [
        {"timeseriesId": series, "val": float(i), "timestamp": f"2023-01-01T00:00:{i:02d}Z"}
        for i in range(n)
    ]


def _apollo_series(client: TestClient, access: str) -> str:
    made = client.post("/apollo/devices/dev/timeseries", json=[{"id": "p"}], headers=bearer(access))
    assert made.status_code == 202, made.text
    series: str = made.json()["data"]["relationships"][0]["timeseriesId"]
    return series


def _v1_error(reply: httpx.Response, status: int, setting: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    body: dict[str, Any] = reply.json()
    assert set(body) == {"error", "code", "type", "param"} and body["code"] == status
    assert setting in body["error"]
    return body


def _apollo_error(reply: httpx.Response, status: int, setting: str) -> None:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["data"] is None and body["status"]["code"] == str(status)
    assert setting in body["status"]["message"]


def _oauth_error(reply: httpx.Response, status: int, setting: str) -> None:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"error", "error_description"}
    assert setting in body["error_description"]


def _chunks(data: bytes) -> Iterator[bytes]:
    # A generator body goes out chunked, with no Content-Length to refuse up front.
    for at in range(0, len(data), 100):
        yield data[at : at + 100]


BODY = "WATTBASE_MAX_BODY_BYTES"


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_body_size_on_every_face(app_with: Open, demo: Tenant, chunked: bool) -> None:
    big = b"[" + b" " * 2000 + b"]"

    def body(data: bytes) -> Any:
        return _chunks(data) if chunked else data

    with app_with(max_body_bytes=1000) as client:
        access = token(client, demo.secret)
        json_type = {"Content-Type": "application/json"}
        v1 = client.post(
            "/demo/api/v1/timeseries", content=body(big), headers={**demo.key_header, **json_type}
        )
        assert _v1_error(v1, 413, BODY)["type"] == "payload_too_large"
        v2 = client.post(
            "/api/v2/things", content=body(big), headers={**demo.basic_header, **json_type}
        )
        _v1_error(v2, 413, BODY)
        for path in ("/apollo/devices", "/apollo/devices/d/timeseries/samples"):
            apollo = client.post(path, content=body(big), headers={**bearer(access), **json_type})
            _apollo_error(apollo, 413, BODY)
        form = b"grant_type=client_credentials&client_id=demo&client_secret=" + b"x" * 2000
        oauth = client.post(
            "/oauth/token",
            content=body(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        _oauth_error(oauth, 413, BODY)


def test_dataset_uploads_name_their_own_limit(app_with: Open, demo: Tenant) -> None:
    with app_with(max_dataset_bytes=10) as client:
        reply = client.post(
            "/api/v2/datasets", content=b"{" + b" " * 3_000_000 + b"}", headers=demo.basic_header
        )
        _v1_error(reply, 413, "WATTBASE_MAX_DATASET_BYTES")


POINTS = "WATTBASE_MAX_POINTS_PER_REQUEST"


def test_points_per_request_on_v1_v2_and_apollo(app_with: Open, demo: Tenant, store: Store) -> None:
    with app_with(max_points_per_request=3) as client:
        access = token(client, demo.secret)
        series = make_series(client, demo)["uuid"]
        device_series = _apollo_series(client, access)
        before = snapshot(store, "demo")
        v1 = client.post("/demo/api/v1/timeseries", json=_v1_points(4), headers=demo.key_header)
        assert _v1_error(v1, 413, POINTS)["param"] == "body"
        v2 = client.post(
            f"/api/v2/timeseries/{series}/data", json=_v2_points(4), headers=demo.basic_header
        )
        _v1_error(v2, 413, POINTS)
        apollo = client.post(
            "/apollo/devices/dev/timeseries/samples",
            json=_samples(device_series, 4),
            headers=bearer(access),
        )
        _apollo_error(apollo, 413, POINTS)
        assert snapshot(store, "demo") == before
        ok = client.post("/demo/api/v1/timeseries", json=_v1_points(3), headers=demo.key_header)
        assert ok.status_code == 200, ok.text
        ok = client.post(
            f"/api/v2/timeseries/{series}/data", json=_v2_points(3), headers=demo.basic_header
        )
        assert ok.status_code == 201, ok.text
        ok = client.post(
            "/apollo/devices/dev/timeseries/samples",
            json=_samples(device_series, 3),
            headers=bearer(access),
        )
        assert ok.status_code == 202, ok.text


def test_series_per_tsquery(app_with: Open, demo: Tenant) -> None:
    with app_with(max_tsquery_series=2) as client:
        uuids = [make_series(client, demo, name=f"s{i}")["uuid"] for i in range(3)]
        h = demo.basic_header
        ok = client.get("/api/v2/tsquery", params={"uuids": ",".join(uuids[:2])}, headers=h)
        assert ok.status_code == 200, ok.text
        refused = client.get("/api/v2/tsquery", params={"uuids": ",".join(uuids)}, headers=h)
        body = _v1_error(refused, 400, "WATTBASE_MAX_TSQUERY_SERIES")
        assert body["param"] == "uuids" and "3 time series" in body["error"]


DEPTH = "WATTBASE_MAX_JSON_DEPTH"


def _nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def test_json_depth_on_every_json_body(app_with: Open, demo: Tenant, store: Store) -> None:
    with app_with(max_json_depth=5) as client:
        access = token(client, demo.secret)
        deep = _v1_points(1)
        deep[0]["data"][0]["extra"] = _nested(3)  # depth 6 in all
        v1 = client.post("/demo/api/v1/timeseries", json=deep, headers=demo.key_header)
        assert _v1_error(v1, 400, DEPTH)["param"] == "body"
        # No content type: the point routes still read JSON, so the check still runs.
        bare = client.post(
            "/demo/api/v1/timeseries",
            content=b"[" * 100_000,
            headers={**demo.key_header, "Content-Type": ""},
        )
        _v1_error(bare, 400, DEPTH)
        thing = {"name": "x", "tags": [_nested(5)]}
        _v1_error(client.post("/api/v2/things", json=thing, headers=demo.basic_header), 400, DEPTH)
        device = {"id": "d", "deviceType": _nested(5)}
        _apollo_error(
            client.post("/apollo/devices", json=device, headers=bearer(access)), 400, DEPTH
        )
        # Brackets inside strings are text, not nesting.
        shallow = [{"node_id": 1, "tag": "[[[[[[{{{{{{", "data": [{"v": 1, "ts": 1e9}]}]
        ok = client.post("/demo/api/v1/timeseries", json=shallow, headers=demo.key_header)
        assert ok.status_code == 200, ok.text


def test_the_decoder_never_answers_500_on_deep_nesting(app_with: Open, demo: Tenant) -> None:
    # Past what the decoder's stack takes, with the depth check set to its maximum.
    with app_with(max_json_depth=1000) as client:
        body = b'[{"node_id":1,"tag":"t","data":[{"v":1,"ts":1,"x":' + b"[" * 999 + b"]" * 999
        body += b"}]}]"
        reply = client.post("/demo/api/v1/timeseries", content=body, headers=demo.key_header)
        assert reply.status_code in (200, 400), reply.text


def test_apollo_pages_hold_at_most_max_raw_points(app_with: Open, demo: Tenant) -> None:
    with app_with(max_raw_points=3) as client:
        access = token(client, demo.secret)
        series = _apollo_series(client, access)
        sent = _samples(series, 10)
        wrote = client.post(
            "/apollo/devices/dev/timeseries/samples", json=sent, headers=bearer(access)
        )
        assert wrote.status_code == 202, wrote.text
        got: list[float] = []
        cursor: str | None = None
        pages = 0
        while True:
            headers = bearer(access) | ({"ContinuationToken": cursor} if cursor else {})
            reply = client.get(
                "/apollo/devices/dev/timeseries/samples",
                params={"timeseries_ids": series, "limit": 1000},
                headers=headers,
            )
            assert reply.status_code == 200, reply.text
            page = reply.json()
            assert len(page["data"]) <= 3
            got.extend(x["val"] for x in page["data"])
            pages += 1
            cursor = page["paging"]["continuationToken"]
            if cursor is None:
                break
        assert got == [float(i) for i in range(10)] and pages == 4
