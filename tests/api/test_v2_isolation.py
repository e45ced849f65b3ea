"""Another domain's Basic credentials see nothing of the demo domain: 404 on every path."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient

from tests.api.v2util import BUILDING, make_series
from tests.conftest import Tenant


def test_other_domain_gets_404_everywhere(client: TestClient, demo: Tenant, other: Tenant) -> None:
    series = make_series(client, demo, si_unit="kWh")
    uuid = series["uuid"]
    points = [{"v": 1.0, "ts": "2023-01-01T00:00:00Z"}]
    assert (
        client.post(
            f"/api/v2/timeseries/{uuid}/data", json=points, headers=demo.basic_header
        ).status_code
        == 201
    )
    h = other.basic_header
    calls = [
        ("GET", f"/api/v2/things/{BUILDING}", None),
        ("PUT", f"/api/v2/things/{BUILDING}", {"name": "Stolen"}),
        ("DELETE", f"/api/v2/things/{BUILDING}?cascade=true", None),
        ("GET", f"/api/v2/things/{BUILDING}/timeseries", None),
        ("POST", "/api/v2/things", {"name": "Intruder", "parent": BUILDING}),
        ("POST", "/api/v2/timeseries", {"thing_uuid": BUILDING, "name": "x"}),
        ("GET", f"/api/v2/timeseries/{uuid}", None),
        ("PUT", f"/api/v2/timeseries/{uuid}", {"name": "y"}),
        ("GET", f"/api/v2/timeseries/{uuid}/data", None),
        ("GET", f"/api/v2/timeseries/{uuid}/data?precision=day", None),
        ("POST", f"/api/v2/timeseries/{uuid}/data", points),
        ("POST", f"/api/v2/timeseries/{uuid}/data?unit=MWh", points),
        ("DELETE", f"/api/v2/timeseries/{uuid}/data", None),
        ("GET", f"/api/v2/tsquery?uuids={uuid}", None),
        ("DELETE", f"/api/v2/timeseries/{uuid}", None),
    ]
    for method, path, body in calls:
        reply = client.request(method, path, json=body, headers=h)
        assert reply.status_code == 404, (method, path, reply.status_code)
        assert reply.json()["type"] == "not_found"
    assert client.get("/api/v2/things", headers=h).json() == []
    assert client.get("/api/v2/timeseries", headers=h).json() == []
    # And the demo domain still has all of it.
    mine = client.get(f"/api/v2/timeseries/{uuid}/data", headers=demo.basic_header).json()
    assert mine == points
    assert (
        client.get(f"/api/v2/things/{BUILDING}", headers=demo.basic_header).json()["name"]
        == "Demo building"
    )


def test_wrong_or_missing_credentials_are_401(
    client: TestClient, demo: Tenant, other: Tenant
) -> None:
    wrong = base64.b64encode(b"demo:not-the-secret").decode()
    crossed = base64.b64encode(f"demo:{other.secret}".encode()).decode()
    for header in (
        {"Authorization": f"Basic {wrong}"},
        {"Authorization": f"Basic {crossed}"},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Key demo-secret"},
        {},
    ):
        reply = client.get("/api/v2/things", headers=header)
        assert reply.status_code == 401, header
        assert reply.headers["WWW-Authenticate"] == 'Basic realm="wattbase"'
        assert reply.json()["code"] == 401
