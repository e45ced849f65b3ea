"""The Python examples of seed 001, as printed, with only their host changed."""

from __future__ import annotations

import requests

from tests.conftest import Server

HEADER = {"Authorization": "Key demo-secret", "Content-Type": "application/json"}


def _read(server: Server, node: object, tag: str = "outdoortemp") -> list[dict[str, object]]:
    reply = requests.get(
        f"{server.url}/demo/api/v1/timeseries",
        headers=HEADER,
        params={"node_id": str(node), "tag": tag},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    series = reply.json()["timeseries"]
    assert len(series) == 1
    data: list[dict[str, object]] = series[0]["data"]
    return data


def test_single_tag_example(server: Server) -> None:
    data = [
        {
            "node_id": 1,
            "tag": "outdoortemp",
            "data": [
                {"v": 12.3, "ts": "2023-01-01T12:00:00Z"},
                {"v": 12.4, "ts": "2023-01-01T12:10:00Z"},
                {"v": 12.5, "ts": "2023-01-01T12:20:00Z"},
            ],
        }
    ]
    reply = requests.post(
        f"{server.url}/demo/api/v1/timeseries",
        headers=HEADER,
        params={"silent": "true"},
        json=data,
        timeout=10,
    )
    assert reply.status_code == 204
    assert reply.content == b""
    assert _read(server, 1) == data[0]["data"]


def test_multiple_nodes_example(server: Server) -> None:
    uuid = "12345678-1234-1234-1234-123456789012"
    data = [
        {"node_id": 1, "tag": "outdoortemp", "data": [{"v": 12.3, "ts": "2023-01-01T12:00:00Z"}]},
        {"node_id": 2, "tag": "outdoortemp", "data": [{"v": 0.5, "ts": "2023-01-01T12:00:00Z"}]},
        {
            "node_id": uuid,
            "tag": "outdoortemp",
            "data": [{"v": 12.3, "ts": "2023-01-01T12:00:00Z"}],
        },
    ]
    reply = requests.post(
        f"{server.url}/demo/api/v1/timeseries",
        headers=HEADER,
        params={"silent": "true"},
        json=data,
        timeout=10,
    )
    assert reply.status_code == 204
    assert _read(server, 1) == [{"v": 12.3, "ts": "2023-01-01T12:00:00Z"}]
    assert _read(server, 2) == [{"v": 0.5, "ts": "2023-01-01T12:00:00Z"}]
    assert _read(server, uuid) == [{"v": 12.3, "ts": "2023-01-01T12:00:00Z"}]


def test_overwrite_example_replaces_the_window(server: Server) -> None:
    url = f"{server.url}/demo/api/v1/timeseries"
    first = [
        {
            "node_id": 1,
            "tag": "outdoortemp",
            "data": [
                {"v": 1.0, "ts": "2023-01-01T12:00:00Z"},
                {"v": 2.0, "ts": "2023-01-01T12:05:00Z"},
                {"v": 3.0, "ts": "2023-01-01T12:20:00Z"},
                {"v": 4.0, "ts": "2023-01-01T12:30:00Z"},
            ],
        }
    ]
    assert requests.post(url, headers=HEADER, json=first, timeout=10).status_code == 200
    params = {"silent": "true", "overwrite": "replace_window"}
    data = [
        {
            "node_id": 1,
            "tag": "outdoortemp",
            "data": [
                {"v": 12.3, "ts": "2023-01-01T12:00:00Z"},
                {"v": 12.4, "ts": "2023-01-01T12:10:00Z"},
                {"v": 12.5, "ts": "2023-01-01T12:20:00Z"},
            ],
        }
    ]
    reply = requests.post(url, headers=HEADER, params=params, json=data, timeout=10)
    assert reply.status_code == 204
    # 12:05 lay inside the window and is gone; 12:30 lay outside and stays.
    assert _read(server, 1) == [*data[0]["data"], {"v": 4.0, "ts": "2023-01-01T12:30:00Z"}]  # type: ignore[misc]


def test_data_survives_a_restart(server: Server) -> None:
    data = [{"node_id": 2, "tag": "flow", "data": [{"v": 7.5, "ts": "2023-05-01T00:00:00Z"}]}]
    url = f"{server.url}/demo/api/v1/timeseries"
    assert requests.post(url, headers=HEADER, json=data, timeout=10).status_code == 200
    server.stop()
    server.start()
    assert _read(server, 2, "flow") == data[0]["data"]
