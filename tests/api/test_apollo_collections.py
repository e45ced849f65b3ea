"""A token limited to collections: 403 on every apollo endpoint outside them, nothing written."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.apollo_helpers import bearer, token
from tests.conftest import Tenant
from wattbase.core.access import create_key
from wattbase.model.query import TimeRange
from wattbase.model.tenancy import Scope
from wattbase.storage.base import Store

SAMPLE = {"val": 1.0, "timestamp": "2024-01-01T00:00:00Z"}


def test_limited_token_is_403_everywhere_outside_its_collections(
    client: TestClient, store: Store, demo: Tenant
) -> None:
    admin = token(client, demo.secret)
    made = client.post(
        "/apollo/devices/RedMeter/timeseries", headers=bearer(admin, "red"), json=[{"id": "p"}]
    )
    assert made.status_code == 202, made.text
    uuid = made.json()["data"]["relationships"][0]["timeseriesId"]
    _, secret = create_key(
        store, "demo", frozenset({Scope.READ, Scope.WRITE}), collections=frozenset({"blue"})
    )
    blue = token(client, secret)

    attempts = [
        ("POST", "/apollo/devices", {}, {"id": "NewRed", "deviceType": "meter"}, "red"),
        ("POST", "/apollo/devices", {}, {"id": "NewDefault"}, None),
        ("POST", "/apollo/devices/RedMeter/timeseries", {}, [{"id": "extra"}], None),
        ("POST", "/apollo/devices/RedMeter/timeseries", {}, [{"id": "extra"}], "red"),
        ("POST", "/apollo/devices/NewRed/timeseries", {}, [{"id": "extra"}], "red"),
        ("POST", "/apollo/devices/NewDef/timeseries", {}, [{"id": "extra"}], None),
        (
            "POST",
            "/apollo/devices/RedMeter/timeseries/samples",
            {},
            [{"timeseriesId": uuid, **SAMPLE}],
            None,
        ),
        ("GET", f"/apollo/devices/RedMeter/timeseries/{uuid}", {}, None, None),
        (
            "GET",
            "/apollo/devices/RedMeter/timeseries/samples",
            {"timeseries_ids": uuid},
            None,
            None,
        ),
    ]
    for method, path, params, body, collection in attempts:
        reply = client.request(
            method, path, params=params, json=body, headers=bearer(blue, collection)
        )
        assert reply.status_code == 403, (method, path, collection, reply.text)
        assert reply.json() == {
            "status": {"message": reply.json()["status"]["message"], "code": "403"},
            "data": None,
        }

    with store.read() as session:
        for device in ("NewRed", "NewDefault", "NewDef"):
            assert session.find_thing("demo", device_id=device) is None
        red = session.find_thing("demo", device_id="RedMeter")
        assert red is not None and red.collection == "red"
        assert session.find_series("demo", red.uuid, "extra") is None
        series = session.find_series("demo", red.uuid, "p")
        assert series is not None
        assert session.count_points_many([series.sid], TimeRange()) == 0

    # Inside its collection the same token works.
    reply = client.post(
        "/apollo/devices/BlueMeter/timeseries", headers=bearer(blue, "blue"), json=[{"id": "p"}]
    )
    assert reply.status_code == 202, reply.text
