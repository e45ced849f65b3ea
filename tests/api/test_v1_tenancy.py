"""Nothing crosses domains, read-only keys cannot write, collections narrow what a key sees."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import snapshot
from tests.conftest import Tenant
from wattbase.core.access import authenticate, create_key
from wattbase.core.things import ThingDraft, create_thing
from wattbase.model.tenancy import Scope
from wattbase.storage.base import Store

BASE = "/demo/api/v1"
POINTS = [{"node_id": 1, "tag": "power", "data": [{"v": 5.0, "ts": "2023-01-01T00:00:00Z"}]}]


def _every_v1_call(client: TestClient, headers: dict[str, str]) -> list[httpx.Response]:
    return [
        client.get(f"{BASE}/timeseries", headers=headers, params={"node_id": 1, "tag": "power"}),
        client.get(f"{BASE}/timeseries", headers=headers, params={"tag": "power"}),
        client.post(f"{BASE}/timeseries", headers=headers, json=POINTS),
        client.get(f"{BASE}/nodes", headers=headers),
        client.post(f"{BASE}/nodes", headers=headers, json={"name": "intruder"}),
        client.get(f"{BASE}/nodes/1", headers=headers),
        client.put(f"{BASE}/nodes/1", headers=headers, json={"name": "renamed"}),
        client.delete(f"{BASE}/nodes/2", headers=headers, params={"cascade": "true"}),
    ]


def test_another_domains_key_is_refused_everywhere(
    client: TestClient, demo: Tenant, other: Tenant, store: Store
) -> None:
    assert (
        client.post(f"{BASE}/timeseries", headers=demo.key_header, json=POINTS).status_code == 200
    )
    before = snapshot(store, "demo")
    nodes = client.get(f"{BASE}/nodes", headers=demo.key_header).json()
    for reply in _every_v1_call(client, other.key_header):
        assert reply.status_code == 401, f"{reply.request.method} {reply.request.url}"
        assert "WWW-Authenticate" in reply.headers
        assert "5.0" not in reply.text and "Demo" not in reply.text
    assert snapshot(store, "demo") == before
    assert client.get(f"{BASE}/nodes", headers=demo.key_header).json() == nodes
    # The other key still works on its own domain, and sees none of demo's nodes there.
    own = client.get("/other/api/v1/nodes", headers=other.key_header)
    assert own.status_code == 200 and own.json() == []


def test_a_revoked_or_unknown_domain_is_refused(client: TestClient, demo: Tenant) -> None:
    reply = client.get("/nowhere/api/v1/nodes", headers=demo.key_header)
    assert reply.status_code == 401


def test_a_read_only_key_cannot_write(client: TestClient, demo: Tenant, store: Store) -> None:
    _, secret = create_key(store, "demo", frozenset({Scope.READ}))
    headers = {"Authorization": f"Key {secret}"}
    before = snapshot(store, "demo")
    writes = [
        client.post(f"{BASE}/timeseries", headers=headers, json=POINTS),
        client.post(f"{BASE}/nodes", headers=headers, json={"name": "new node"}),
        client.put(f"{BASE}/nodes/1", headers=headers, json={"name": "renamed"}),
        client.delete(f"{BASE}/nodes/2", headers=headers),
    ]
    for reply in writes:
        assert reply.status_code == 403, f"{reply.request.method} {reply.request.url}"
        assert reply.json()["type"] == "forbidden"
    assert snapshot(store, "demo") == before
    assert client.get(f"{BASE}/nodes/1", headers=headers).json()["name"] == "Demo building"
    assert client.get(f"{BASE}/nodes", headers=headers).status_code == 200


def test_a_write_only_key_cannot_read(client: TestClient, demo: Tenant, store: Store) -> None:
    _, secret = create_key(store, "demo", frozenset({Scope.WRITE}))
    headers = {"Authorization": f"Key {secret}"}
    assert client.post(f"{BASE}/timeseries", headers=headers, json=POINTS).status_code == 200
    reply = client.get(f"{BASE}/timeseries", headers=headers, params={"node_id": 1})
    assert reply.status_code == 403


@pytest.fixture
def east(client: TestClient, demo: Tenant, store: Store) -> dict[str, str]:
    """A key limited to collection ``east``, which holds one node with one series."""
    boss = authenticate(store, "demo", demo.secret)
    node = create_thing(store, boss, ThingDraft(name="east meter", collection="east"))
    for node_id in (1, node.node_id):
        body = [{**POINTS[0], "node_id": node_id}]
        assert (
            client.post(f"{BASE}/timeseries", headers=demo.key_header, json=body).status_code == 200
        )
    _, secret = create_key(
        store, "demo", frozenset({Scope.READ, Scope.WRITE}), collections=frozenset({"east"})
    )
    return {"Authorization": f"Key {secret}", "node": str(node.node_id)}


def test_a_collection_key_sees_only_its_nodes(
    client: TestClient, east: dict[str, str], store: Store
) -> None:
    headers = {"Authorization": east["Authorization"]}
    mine = int(east["node"])
    listed = client.get(f"{BASE}/nodes", headers=headers).json()
    assert [n["id"] for n in listed] == [mine]
    assert client.get(f"{BASE}/nodes/{mine}", headers=headers).status_code == 200
    before = snapshot(store, "demo")
    outside = [
        client.get(f"{BASE}/nodes/1", headers=headers),
        client.put(f"{BASE}/nodes/1", headers=headers, json={"name": "renamed"}),
        client.delete(f"{BASE}/nodes/1", headers=headers, params={"cascade": "true"}),
        client.get(f"{BASE}/timeseries", headers=headers, params={"node_id": 1}),
        client.post(f"{BASE}/timeseries", headers=headers, json=POINTS),
    ]
    for reply in outside:
        assert reply.status_code == 404, f"{reply.request.method} {reply.request.url}"
    assert snapshot(store, "demo") == before
    # A read by tag alone gives the series of visible nodes only.
    by_tag = client.get(f"{BASE}/timeseries", headers=headers, params={"tag": "power"}).json()
    assert [s["node_id"] for s in by_tag["timeseries"]] == [mine]
