"""``/demo/api/v1/nodes``: create, get, list, change, move and delete."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from tests.api.helpers import snapshot
from tests.conftest import Tenant
from wattbase.model.query import TimeRange, ValueFilter
from wattbase.storage.base import Store

NODES = "/demo/api/v1/nodes"


def _create(client: TestClient, demo: Tenant, **fields: Any) -> dict[str, Any]:
    reply = client.post(NODES, headers=demo.key_header, json=fields)
    assert reply.status_code == 201, reply.text
    node: dict[str, Any] = reply.json()
    return node


def test_create_then_get_by_id_and_uuid(client: TestClient, demo: Tenant) -> None:
    made = _create(client, demo, name="Boiler room", type="room", tags=["heat", "b1"], parent=1)
    assert made["id"] == 4  # the demo holds 1, 2 and 3
    assert made["name"] == "Boiler room" and made["type"] == "room"
    assert made["tags"] == ["heat", "b1"] and made["state"] == "active"
    assert made["parent"] == "6f1c2a4e-0001-4c1d-9e7a-000000000001"
    for ref in (made["id"], made["uuid"]):
        got = client.get(f"{NODES}/{ref}", headers=demo.key_header)
        assert got.status_code == 200 and got.json() == made
    assert _create(client, demo, name="next one")["id"] == 5


def test_create_refuses_bad_fields(client: TestClient, demo: Tenant) -> None:
    cases = [
        ({"name": "ab"}, "name"),
        ({"name": "fine", "colour": "red"}, "colour"),
        ({"name": "fine", "parent": 4711}, "parent"),
    ]
    for body, param in cases:
        reply = client.post(NODES, headers=demo.key_header, json=body)
        assert reply.status_code in (400, 404), reply.text
        assert reply.json()["param"] == param
    assert len(client.get(NODES, headers=demo.key_header).json()) == 3


def test_list_filters_by_tags_and_pages(client: TestClient, demo: Tenant) -> None:
    for i in range(5):
        _create(client, demo, name=f"meter {i}", tags=["meter", "even" if i % 2 == 0 else "odd"])
    listed = client.get(NODES, headers=demo.key_header).json()
    assert [n["id"] for n in listed] == [1, 2, 3, 4, 5, 6, 7, 8]
    tagged = client.get(NODES, headers=demo.key_header, params={"tags": "meter,even"}).json()
    assert [n["name"] for n in tagged] == ["meter 0", "meter 2", "meter 4"]
    page = client.get(NODES, headers=demo.key_header, params={"limit": 3, "offset": 2}).json()
    assert [n["id"] for n in page] == [3, 4, 5]
    seen = []
    for offset in range(0, 10, 3):
        chunk = client.get(NODES, headers=demo.key_header, params={"limit": 3, "offset": offset})
        seen += [n["id"] for n in chunk.json()]
    assert seen == [n["id"] for n in listed]


def test_update_changes_only_what_is_sent(client: TestClient, demo: Tenant) -> None:
    made = _create(client, demo, name="Old name", type="meter", tags=["a"])
    reply = client.put(f"{NODES}/{made['id']}", headers=demo.key_header, json={"name": "New name"})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {**made, "name": "New name"}
    assert (
        client.get(f"{NODES}/{made['uuid']}", headers=demo.key_header).json()["name"] == "New name"
    )
    reply = client.put(f"{NODES}/{made['id']}", headers=demo.key_header, json={"tags": []})
    assert reply.json()["tags"] == [] and reply.json()["type"] == "meter"
    assert (
        client.put(f"{NODES}/4711", headers=demo.key_header, json={"name": "x" * 5}).status_code
        == 404
    )


def test_move_and_cycles(client: TestClient, demo: Tenant) -> None:
    top = _create(client, demo, name="top")
    middle = _create(client, demo, name="middle", parent=top["id"])
    leaf = _create(client, demo, name="leaf", parent=middle["uuid"])
    moved = client.put(f"{NODES}/{leaf['id']}", headers=demo.key_header, json={"parent": top["id"]})
    assert moved.status_code == 200 and moved.json()["parent"] == top["uuid"]
    for child, parent in ((top, middle), (top, top), (top, leaf)):
        reply = client.put(
            f"{NODES}/{child['id']}", headers=demo.key_header, json={"parent": parent["id"]}
        )
        assert reply.status_code == 409, reply.text
        assert reply.json()["param"] == "parent"
    assert client.get(f"{NODES}/{top['id']}", headers=demo.key_header).json()["parent"] is None
    unparented = client.put(f"{NODES}/{leaf['id']}", headers=demo.key_header, json={"parent": None})
    assert unparented.status_code == 200 and unparented.json()["parent"] is None


def test_delete_refuses_children_and_series_unless_cascade(
    client: TestClient, demo: Tenant, store: Store
) -> None:
    parent = _create(client, demo, name="parent")
    child = _create(client, demo, name="child", parent=parent["id"])
    points = [{"v": float(i), "ts": f"2023-01-01T00:0{i}:00Z"} for i in range(5)]
    body = [{"node_id": child["id"], "tag": "power", "data": points}]
    assert (
        client.post("/demo/api/v1/timeseries", headers=demo.key_header, json=body).status_code
        == 200
    )
    lone = _create(client, demo, name="lonely")
    assert client.delete(f"{NODES}/{lone['id']}", headers=demo.key_header).status_code == 204
    assert client.get(f"{NODES}/{lone['id']}", headers=demo.key_header).status_code == 404

    with store.read() as session:
        found = session.find_series("demo", UUID(child["uuid"]), "power")
    assert found is not None
    sid = found.sid
    before = snapshot(store, "demo")
    for ref in (parent["id"], child["uuid"]):
        reply = client.delete(f"{NODES}/{ref}", headers=demo.key_header)
        assert reply.status_code == 409, reply.text
        assert reply.json()["param"] == "cascade"
    assert snapshot(store, "demo") == before

    reply = client.delete(
        f"{NODES}/{parent['id']}", headers=demo.key_header, params={"cascade": "true"}
    )
    assert reply.status_code == 204
    for gone in (parent, child):
        assert client.get(f"{NODES}/{gone['id']}", headers=demo.key_header).status_code == 404
    after = snapshot(store, "demo")
    assert not any(thing == child["uuid"] for thing, _ in after)
    assert after == {k: v for k, v in before.items() if k[0] != child["uuid"]}
    # The series' points went with it, not just the series row.
    with store.read() as session:
        ts, _ = session.read_points(sid, TimeRange(), ValueFilter(), 100)
    assert len(ts) == 0
