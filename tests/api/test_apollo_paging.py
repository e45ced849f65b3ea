"""Samples paged by continuation tokens: each sample once, in order, tamper-evident."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.apollo_helpers import bearer, token
from tests.conftest import Tenant

BASE = 1_700_000_000
SAMPLES = "/apollo/devices/Walker/timeseries/samples"


def _setup(client: TestClient, secret: str, n: int) -> tuple[dict[str, str], list[str]]:
    headers = bearer(token(client, secret))
    reply = client.post(
        "/apollo/devices/Walker/timeseries",
        headers=headers,
        json=[{"id": f"p{k}", "pointType": "power"} for k in range(3)],
    )
    ids = [r["timeseriesId"] for r in reply.json()["data"]["relationships"]]
    # Two samples share each timestamp, so the walk must break ties by series.
    body = [
        {"timeseriesId": ids[i % 3], "val": float(i), "timestamp": BASE + (i // 2) * 60}
        for i in range(n)
    ]
    assert client.post(SAMPLES, headers=headers, json=body).status_code == 202
    return headers, ids


def _walk(
    client: TestClient, headers: dict[str, str], params: dict[str, Any], between: Any = None
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        extra = {} if cursor is None else {"ContinuationToken": cursor}
        reply = client.get(SAMPLES, headers={**headers, **extra}, params=params)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert len(body["data"]) <= params["limit"]
        seen.extend(body["data"])
        pages += 1
        cursor = body["paging"]["continuationToken"]
        if between is not None:
            between(pages)
        if cursor is None:
            return seen


def test_walk_in_pages_of_seven_both_ways(client: TestClient, demo: Tenant) -> None:
    headers, ids = _setup(client, demo.secret, 1000)
    params = {"timeseries_ids": ",".join(ids), "limit": 7}
    first = client.get(SAMPLES, headers=headers, params=params).json()
    assert first["paging"]["totalCount"] == 1000

    up = _walk(client, headers, {**params, "orderby": "timestamp asc"})
    down = _walk(client, headers, {**params, "orderby": "timestamp desc"})
    assert sorted(s["val"] for s in up) == [float(i) for i in range(1000)]
    assert len(up) == len(down) == 1000
    keys = [(s["unixTimestamp"], ids.index(s["timeseriesId"])) for s in up]
    assert keys == sorted(keys)
    assert len(set(keys)) == 1000
    assert down == up[::-1]
    assert up[0]["timestamp"] == "2023-11-14T22:13:20Z"
    assert up[0]["unixTimestamp"] == BASE


def test_walk_with_range_and_new_samples_arriving(client: TestClient, demo: Tenant) -> None:
    headers, ids = _setup(client, demo.secret, 100)
    params = {
        "timeseries_ids": ",".join(ids),
        "limit": 7,
        "startTime": "2023-11-14T22:23:20Z",  # BASE + 600 s: skips the first 20 samples
        "endTime": "2023-11-14T23:13:20Z",  # BASE + 3600 s, exclusive
    }
    late = [
        {"timeseriesId": ids[2], "val": 1000.0 + k, "timestamp": BASE + 600 + k * 300 + 1}
        for k in range(10)
    ]

    def arrive(pages: int) -> None:
        if pages == 3:
            reply = client.post(SAMPLES, headers=headers, json=late)
            assert reply.status_code == 202

    walked = _walk(client, headers, params, arrive)
    values = [s["val"] for s in walked]
    assert len(values) == len(set(values))
    assert set(range(20, 100)) <= {int(v) for v in values if v < 1000}
    assert not {int(v) for v in values if v < 20}
    # Samples that arrived behind the cursor are not shown; those ahead of it are, once.
    ahead = {v for v in values if v >= 1000}
    assert ahead and len(ahead) < len(late)
    stamps = [s["unixTimestamp"] for s in walked]
    assert stamps == sorted(stamps)


def test_tampered_or_foreign_tokens_are_400(client: TestClient, demo: Tenant) -> None:
    headers, ids = _setup(client, demo.secret, 30)
    params = {"timeseries_ids": ",".join(ids), "limit": 7}
    cursor = client.get(SAMPLES, headers=headers, params=params).json()["paging"][
        "continuationToken"
    ]
    assert cursor
    body, mac = cursor.split(".")
    tampered = [
        body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac,
        body + "." + mac[:5] + ("x" if mac[5] != "x" else "y") + mac[6:],
        "not-a-token",
    ]
    for bad in tampered:
        reply = client.get(SAMPLES, headers={**headers, "ContinuationToken": bad}, params=params)
        assert reply.status_code == 400, bad
        assert reply.json()["data"] is None
        assert reply.json()["status"]["code"] == "400"
    other_queries = [
        {**params, "timeseries_ids": ids[0]},
        {**params, "orderby": "timestamp desc"},
        {**params, "startTime": "2023-11-14T22:13:20Z"},
    ]
    for query in other_queries:
        reply = client.get(SAMPLES, headers={**headers, "ContinuationToken": cursor}, params=query)
        assert reply.status_code == 400, query
    good = client.get(SAMPLES, headers={**headers, "ContinuationToken": cursor}, params=params)
    assert good.status_code == 200


def test_envelope_errors(client: TestClient, demo: Tenant) -> None:
    headers, ids = _setup(client, demo.secret, 3)
    cases = [
        ("POST", "/apollo/devices/Walker/timeseries", None, [], "No points provided"),
        ("POST", SAMPLES, None, [], "No samples provided"),
        ("GET", SAMPLES, {}, None, "No timeseries ids provided"),
    ]
    for method, path, params, body, message in cases:
        reply = client.request(method, path, params=params, json=body, headers=headers)
        assert reply.status_code == 400
        assert reply.json() == {"status": {"message": message, "code": "400"}, "data": None}
    naive = [{"timeseriesId": ids[0], "val": 1.0, "timestamp": "2024-01-01T00:00:00"}]
    reply = client.post(SAMPLES, headers=headers, json=naive)
    assert reply.status_code == 400
    assert "[0].timestamp" in reply.json()["status"]["message"]
