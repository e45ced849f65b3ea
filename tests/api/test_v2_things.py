"""v2 things and time series objects: hierarchy, moves, deletes, lists, through the app."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.v2util import BUILDING, make_series
from tests.conftest import Tenant


def _thing(client: TestClient, demo: Tenant, **fields: Any) -> dict[str, Any]:
    reply = client.post("/api/v2/things", json=fields, headers=demo.basic_header)
    assert reply.status_code == 201, reply.text
    made: dict[str, Any] = reply.json()
    return made


def test_hierarchy_children_and_moves(client: TestClient, demo: Tenant) -> None:
    h = demo.basic_header
    plant = _thing(client, demo, name="Plant", type="site", tags=["heat"])
    pump = _thing(client, demo, name="Pump 1", parent=plant["uuid"], tags=["heat", "pump"])
    valve = _thing(client, demo, name="Valve 1", parent=pump["uuid"])
    assert pump["parent"] == plant["uuid"] and pump["children"] == []
    got = client.get(f"/api/v2/things/{plant['uuid']}", headers=h).json()
    assert got["children"] == [pump["uuid"]]
    assert got["type"] == "site" and got["state"] == "active" and got["node_id"] == 4

    # Moving the plant below its grandchild would close a cycle.
    cycle = client.put(f"/api/v2/things/{plant['uuid']}", json={"parent": valve["uuid"]}, headers=h)
    assert cycle.status_code == 409 and cycle.json()["param"] == "parent"

    moved = client.put(f"/api/v2/things/{valve['uuid']}", json={"parent": plant["uuid"]}, headers=h)
    assert moved.status_code == 200 and moved.json()["parent"] == plant["uuid"]
    got = client.get(f"/api/v2/things/{plant['uuid']}", headers=h).json()
    assert got["children"] == [pump["uuid"], valve["uuid"]]

    # A thing read back can be sent back as it is.
    echoed = client.put(f"/api/v2/things/{pump['uuid']}", json={**got, "name": "Pump A"}, headers=h)
    assert echoed.status_code == 400  # that body is the plant's: its uuid differs
    again = client.get(f"/api/v2/things/{pump['uuid']}", headers=h).json()
    renamed = client.put(
        f"/api/v2/things/{pump['uuid']}", json={**again, "name": "Pump A"}, headers=h
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "Pump A"

    top = client.put(f"/api/v2/things/{valve['uuid']}", json={"parent": None}, headers=h)
    assert top.json()["parent"] is None


def test_list_filters_by_all_tags_with_stable_paging(client: TestClient, demo: Tenant) -> None:
    h = demo.basic_header
    made = [_thing(client, demo, name=f"Meter {i}", tags=["m", f"g{i % 2}"]) for i in range(7)]
    heat = client.get("/api/v2/things", params={"tags": "m,g1"}, headers=h).json()
    assert [t["uuid"] for t in heat] == [t["uuid"] for t in made if "g1" in t["tags"]]
    pages = [
        client.get("/api/v2/things", params={"tags": "m", "limit": 3, "offset": o}, headers=h)
        for o in (0, 3, 6)
    ]
    listed = [t["uuid"] for p in pages for t in p.json()]
    assert listed == [t["uuid"] for t in made]
    assert client.get("/api/v2/things", params={"limit": 0}, headers=h).status_code == 400
    assert client.get("/api/v2/things", params={"limit": 1001}, headers=h).status_code == 400


def test_delete_refuses_children_or_series_unless_cascade(client: TestClient, demo: Tenant) -> None:
    h = demo.basic_header
    plant = _thing(client, demo, name="Plant")
    pump = _thing(client, demo, name="Pump", parent=plant["uuid"])
    leaf = _thing(client, demo, name="Leaf thing")
    series = make_series(client, demo, thing_uuid=pump["uuid"])
    assert client.delete(f"/api/v2/things/{leaf['uuid']}", headers=h).status_code == 204
    assert client.get(f"/api/v2/things/{leaf['uuid']}", headers=h).status_code == 404
    refused = client.delete(f"/api/v2/things/{plant['uuid']}", headers=h)
    assert refused.status_code == 409 and refused.json()["type"] == "conflict"
    assert client.delete(f"/api/v2/things/{pump['uuid']}", headers=h).status_code == 409
    gone = client.delete(f"/api/v2/things/{plant['uuid']}", params={"cascade": "true"}, headers=h)
    assert gone.status_code == 204
    for path in (
        f"things/{plant['uuid']}",
        f"things/{pump['uuid']}",
        f"timeseries/{series['uuid']}",
    ):
        assert client.get(f"/api/v2/{path}", headers=h).status_code == 404


def test_name_rules(client: TestClient, demo: Tenant) -> None:
    h = demo.basic_header
    short = client.post("/api/v2/things", json={"name": "ab"}, headers=h)
    assert short.status_code == 400 and short.json()["param"] == "name"
    unknown = client.post("/api/v2/things", json={"name": "abc", "colour": "red"}, headers=h)
    assert unknown.status_code == 400 and unknown.json()["param"] == "colour"
    orphan = client.post(
        "/api/v2/things", json={"name": "abc", "parent": BUILDING[:-1] + "9"}, headers=h
    )
    assert orphan.status_code == 404


def test_series_crud_and_lists(client: TestClient, demo: Tenant) -> None:
    h = demo.basic_header
    made = make_series(
        client, demo, name="supply", si_unit="°C", lower_bound=-50, upper_bound=150, tags=["t"]
    )
    assert made["id"] == made["uuid"] and made["thing_uuid"] == BUILDING
    assert made["created_by"] == "00000000-0000-4000-8000-00000000d3e0"
    other = make_series(client, demo, name="return", tags=["t", "r"])
    clash = client.post(
        "/api/v2/timeseries", json={"thing_uuid": BUILDING, "name": "supply"}, headers=h
    )
    assert clash.status_code == 409
    url = f"/api/v2/timeseries/{made['uuid']}"
    assert client.get(url, headers=h).json() == made
    changed = client.put(url, json={**made, "upper_bound": 120.0, "tags": ["t", "x"]}, headers=h)
    assert changed.status_code == 200
    assert changed.json()["upper_bound"] == 120.0 and changed.json()["tags"] == ["t", "x"]
    bad = client.put(url, json={"lower_bound": 200.0}, headers=h)
    assert bad.status_code == 400 and bad.json()["param"] == "lower_bound"
    move = client.put(url, json={"thing_uuid": "12345678-1234-1234-1234-123456789012"}, headers=h)
    assert move.status_code == 400 and move.json()["param"] == "thing_uuid"

    listed = client.get("/api/v2/timeseries", params={"tags": "t"}, headers=h).json()
    assert [s["uuid"] for s in listed] == [made["uuid"], other["uuid"]]
    only_r = client.get("/api/v2/timeseries", params={"tags": "t,r"}, headers=h).json()
    assert [s["uuid"] for s in only_r] == [other["uuid"]]
    on_thing = client.get(
        f"/api/v2/things/{BUILDING}/timeseries", params={"limit": 1, "offset": 1}, headers=h
    )
    assert [s["uuid"] for s in on_thing.json()] == [other["uuid"]]

    assert client.delete(url, headers=h).status_code == 204
    assert client.get(url, headers=h).status_code == 404
    assert client.delete(url, headers=h).status_code == 404
