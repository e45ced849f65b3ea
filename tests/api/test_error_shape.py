"""Every error, whatever raised it, has the one body ``{"error", "code", "type", "param"}``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant, settings_for
from wattbase.api import create_app
from wattbase.storage.base import Store

KEY = {"Authorization": "Key demo-secret"}
TS = "/demo/api/v1/timeseries"


@pytest.fixture
def app_client(tmp_path: Path, store: Store, demo: Tenant) -> Iterator[TestClient]:
    """The app with a small body limit, so 413 is cheap to provoke."""
    settings = settings_for("embedded", tmp_path, max_body_bytes=2000)
    with TestClient(create_app(settings, store=store), raise_server_exceptions=False) as client:
        yield client


def _parent_with_child(client: TestClient) -> str:
    parent = client.post("/demo/api/v1/nodes", headers=KEY, json={"name": "parent"}).json()
    child = {"name": "child", "parent": parent["id"]}
    assert client.post("/demo/api/v1/nodes", headers=KEY, json=child).status_code == 201
    return f"/demo/api/v1/nodes/{parent['id']}"


def _requests(client: TestClient) -> list[tuple[int, httpx.Response]]:
    big = json.dumps([{"node_id": 1, "tag": "t", "data": [{"v": 1.0, "ts": "x" * 50}] * 60}])
    return [
        (400, client.post(TS, headers=KEY, content=b"[{")),
        (400, client.post(TS, headers=KEY, json=[{"node_id": 1, "tag": "t", "data": [{}]}])),
        (400, client.get(TS, headers=KEY, params={"node_id": 1, "resolution": "fortnight"})),
        (400, client.get("/demo/api/v1/nodes", headers=KEY, params={"limit": 0})),
        (400, client.post("/demo/api/v1/nodes", headers=KEY, json={"name": "x"})),
        (400, client.get(TS, headers=KEY)),
        (401, client.get(TS, params={"node_id": 1})),
        (401, client.get(TS, headers={"Authorization": "Key wrong"}, params={"node_id": 1})),
        (401, client.get("/demo/api/v1/nodes", headers={"Authorization": "Bearer x"})),
        (404, client.get("/no/such/route", headers=KEY)),
        (404, client.get("/demo/api/v1/nodes/4711", headers=KEY)),
        (404, client.post(TS, headers=KEY, json=[{"node_id": 99, "tag": "t", "data": []}])),
        (405, client.patch(TS, headers=KEY)),
        (405, client.delete("/demo/api/v1/nodes", headers=KEY)),
        (409, client.delete(_parent_with_child(client), headers=KEY)),
        (413, client.post(TS, headers={**KEY, "Content-Type": "application/json"}, content=big)),
    ]


def test_every_error_has_the_one_shape(app_client: TestClient) -> None:
    seen = set()
    for status, reply in _requests(app_client):
        where = f"{reply.request.method} {reply.request.url}"
        assert reply.status_code == status, f"{where}: {reply.text}"
        assert reply.headers["content-type"].startswith("application/json"), where
        body = reply.json()
        assert set(body) == {"error", "code", "type", "param"}, where
        assert isinstance(body["error"], str) and body["error"], where
        assert body["code"] == status, where
        assert isinstance(body["type"], str) and body["type"], where
        assert body["param"] is None or isinstance(body["param"], str), where
        if status == 401:
            assert reply.headers["WWW-Authenticate"].startswith("Key"), where
        seen.add(status)
    assert seen == {400, 401, 404, 405, 409, 413}


def test_query_validation_names_the_parameter(app_client: TestClient) -> None:
    reply = app_client.get(TS, headers=KEY, params={"node_id": 1, "aggregate": "median"})
    assert reply.status_code == 400
    assert reply.json()["param"] == "aggregate"
    assert reply.json()["type"] == "invalid_request"
