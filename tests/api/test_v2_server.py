"""v2 against a real server process: the seed 000 examples as printed, and the main paths."""

from __future__ import annotations

import base64
from typing import Any

import requests

from tests.conftest import Server

CREDENTIALS = base64.b64encode(b"demo:demo-secret").decode()
HEADER = {"Authorization": f"Basic {CREDENTIALS}"}
BUILDING = "6f1c2a4e-0001-4c1d-9e7a-000000000001"


def _series(server: Server, **fields: Any) -> str:
    body = {"thing_uuid": BUILDING, "name": "temperature", **fields}
    reply = requests.post(f"{server.url}/api/v2/timeseries", json=body, headers=HEADER, timeout=10)
    assert reply.status_code == 201, reply.text
    uuid: str = reply.json()["uuid"]
    return uuid


def test_seed_000_python_example(server: Server) -> None:
    uuid = _series(server, si_unit="°C")
    # From here on the seed's example, with host, UUID and credentials filled in.
    api_url = f"{server.url}/api/v2/timeseries/{uuid}/data"
    header = {"Authorization": f"Basic {CREDENTIALS}"}
    data_points = [
        {"timestamp": "2023-07-01T00:00:00Z", "value": 23.5},
        {"timestamp": "2023-07-01T01:00:00Z", "value": 24.0},
    ]

    response = requests.post(api_url, json=data_points, headers=header)
    print(response.status_code, response.json())
    # The example ends there; check that it did what it says.
    assert response.status_code == 201 and response.json()["inserted"] == 2
    back = requests.get(api_url, headers=header, timeout=10).json()
    assert back == [
        {"v": 23.5, "ts": "2023-07-01T00:00:00Z"},
        {"v": 24.0, "ts": "2023-07-01T01:00:00Z"},
    ]


def test_seed_000_javascript_and_java_bodies(server: Server) -> None:
    uuid = _series(server)
    # The Java example sends this exact string with Content-Type: application/json.
    java = (
        '[{"timestamp": "2023-07-01T00:00:00Z", "value": 23.5}, '
        '{"timestamp": "2023-07-01T01:00:00Z", "value": 24.0}]'
    )
    headers = {**HEADER, "Content-Type": "application/json"}
    url = f"{server.url}/api/v2/timeseries/{uuid}/data"
    reply = requests.post(url, data=java.encode("utf-8"), headers=headers, timeout=10)
    assert reply.status_code == 201 and reply.json()["inserted"] == 2
    # axios sends the same JSON again; a retry changes nothing.
    again = requests.post(url, data=java.encode("utf-8"), headers=headers, timeout=10)
    assert again.status_code == 201 and again.json()["skipped"] == 2


def test_main_paths(server: Server) -> None:
    base = f"{server.url}/api/v2"
    thing = requests.post(
        f"{base}/things",
        json={"name": "Boiler room", "parent": BUILDING},
        headers=HEADER,
        timeout=10,
    )
    assert thing.status_code == 201
    tid = thing.json()["uuid"]
    assert requests.get(f"{base}/things/{BUILDING}", headers=HEADER, timeout=10).json()[
        "children"
    ] == [tid]
    uuid = _series(server, thing_uuid=tid, name="heat", si_unit="kWh", lower_bound=0)
    listed = requests.get(f"{base}/things/{tid}/timeseries", headers=HEADER, timeout=10).json()
    assert [s["id"] for s in listed] == [uuid]
    points = [{"v": 1000.0, "ts": f"2023-03-26T{h:02d}:00:00Z"} for h in range(23)]
    wrote = requests.post(
        f"{base}/timeseries/{uuid}/data",
        params={"unit": "Wh"},
        json=points,
        headers=HEADER,
        timeout=10,
    )
    assert wrote.status_code == 201 and wrote.json()["inserted"] == 23
    day = requests.get(
        f"{base}/timeseries/{uuid}/data",
        params={"precision": "day", "aggregate": "sum", "start": "2023-03-26", "end": "2023-03-27"},
        headers=HEADER,
        timeout=10,
    ).json()
    # The Stockholm day of 2023-03-26 runs from 2023-03-25T23:00Z for 23 hours.
    assert day == [{"v": 22.0, "ts": "2023-03-26T00:00:00+01:00"}]
    query = requests.get(
        f"{base}/tsquery",
        params={"uuids": uuid, "precision": "hour", "aggregate": "count"},
        headers=HEADER,
        timeout=10,
    )
    assert [p["v"] for p in query.json()[0]["data"]] == [1.0] * 23
    assert (
        requests.delete(f"{base}/timeseries/{uuid}/data", headers=HEADER, timeout=10).status_code
        == 204
    )
    assert requests.get(f"{base}/timeseries/{uuid}/data", headers=HEADER, timeout=10).json() == []
    assert requests.delete(f"{base}/things/{tid}", headers=HEADER, timeout=10).status_code == 409
    assert (
        requests.delete(
            f"{base}/things/{tid}", params={"cascade": "true"}, headers=HEADER, timeout=10
        ).status_code
        == 204
    )
    assert requests.get(f"{base}/timeseries/{uuid}", headers=HEADER, timeout=10).status_code == 404
    wrong = requests.get(f"{base}/things", auth=("demo", "wrong"), timeout=10)
    assert wrong.status_code == 401 and "Basic" in wrong.headers["WWW-Authenticate"]
