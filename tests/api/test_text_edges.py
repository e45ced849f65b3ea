"""Text the databases could trip on: NUL (U+0000) is refused alike on every backend,
naming where it was; long names are stored."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.v2util import make_series
from tests.conftest import Tenant

NUL_NAME = b'{"name": "boiler\\u0000room"}'


def test_nul_in_a_json_body_is_400(client: TestClient, demo: Tenant) -> None:
    headers = {**demo.basic_header, "Content-Type": "application/json"}
    reply = client.post("/api/v2/things", content=NUL_NAME, headers=headers)
    assert reply.status_code == 400, reply.text
    assert reply.json()["param"] == "body"
    assert "NUL" in reply.json()["error"]
    v1 = [{"node_id": 1, "tag": "t\x00", "data": [{"v": 1.0, "ts": "2024-01-01T00:00:00Z"}]}]
    reply = client.post("/demo/api/v1/timeseries", json=v1, headers=demo.key_header)
    assert reply.status_code == 400, reply.text
    assert client.get("/api/v2/things", headers=demo.basic_header).json()  # demo things only
    names = [t["name"] for t in client.get("/api/v2/things", headers=demo.basic_header).json()]
    assert not any("room" in n for n in names)


def test_an_escaped_backslash_is_not_nul(client: TestClient, demo: Tenant) -> None:
    headers = {**demo.basic_header, "Content-Type": "application/json"}
    body = b'{"name": "literally \\\\u0000"}'
    reply = client.post("/api/v2/things", content=body, headers=headers)
    assert reply.status_code == 201, reply.text
    assert reply.json()["name"] == "literally \\u0000"


def test_nul_in_the_query_or_path_is_400(client: TestClient, demo: Tenant) -> None:
    reply = client.get("/api/v2/things?tags=a%00b", headers=demo.basic_header)
    assert reply.status_code == 400, reply.text
    assert reply.json()["param"] == "tags"
    reply = client.get("/demo%00/api/v1/nodes", headers=demo.key_header)
    assert reply.status_code == 400, reply.text
    assert reply.json()["param"] == "path"


def test_long_incompressible_names_are_stored(client: TestClient, demo: Tenant) -> None:
    """No index refuses a long name (PostgreSQL's btree entries stop near 2.7 kB)."""
    name = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(4000))  # ~12 kB UTF-8
    made = make_series(client, demo, name=name)
    assert made["name"] == name
    again = client.get(f"/api/v2/timeseries/{made['uuid']}", headers=demo.basic_header)
    assert again.json()["name"] == name
