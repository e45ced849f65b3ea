"""Seed 003's curl example, as printed, through a real HTTP client against a real server."""

from __future__ import annotations

import httpx

from tests.conftest import Server

POINTS = """[
    {
        "id": "PointId1",
\t\t"pointType": "temperature"
    },
    {
        "id": "PointId2",
\t\t"pointType": "humidity"
    }
]"""


def _token(server: Server) -> str:
    reply = httpx.post(
        f"{server.url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "demo",
            "client_secret": "demo-secret",
        },
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert "apollo_write" in body["scope"].split()
    access: str = body["access_token"]
    return access


def _post_points(server: Server, access: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/apollo/devices/TestDevice/timeseries",
        headers={
            "Authorization": f"Bearer {access}",
            "Content-Type": "application/json",
            "ercollectionid": "testcollection",
            "x-correlation-id": "764ff302-7ba1-42dc-bd4e-e1e883e9a76b",
        },
        content=POINTS,
        timeout=10,
    )


def test_post_timeseries_example(server: Server) -> None:
    access = _token(server)
    reply = _post_points(server, access)
    assert reply.status_code == 202, reply.text
    assert reply.headers["x-correlation-id"] == "764ff302-7ba1-42dc-bd4e-e1e883e9a76b"
    body = reply.json()
    assert body["status"] == {"Message": "", "Code": "202"}
    assert body["data"]["deviceId"] == "TestDevice"
    relationships = body["data"]["relationships"]
    assert [(r["pointId"], r["pointType"]) for r in relationships] == [
        ("PointId1", "temperature"),
        ("PointId2", "humidity"),
    ]
    ids = [r["timeseriesId"] for r in relationships]
    assert len(set(ids)) == 2

    again = _post_points(server, access)
    assert again.status_code == 202, again.text
    assert [r["timeseriesId"] for r in again.json()["data"]["relationships"]] == ids

    one = httpx.get(
        f"{server.url}/apollo/devices/TestDevice/timeseries/{ids[1]}",
        headers={"Authorization": f"Bearer {access}"},
        timeout=10,
    )
    assert one.status_code == 200, one.text
    assert one.json()["data"]["pointId"] == "PointId2"
    assert one.json()["data"]["pointType"] == "humidity"
