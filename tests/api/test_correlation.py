"""``x-correlation-id`` on every face's answers, and in the JSON log lines of the request."""

from __future__ import annotations

import io
import json
import logging

from fastapi.testclient import TestClient

from tests.conftest import Tenant
from wattbase.api.logs import JsonFormatter


def test_every_face_echoes_or_makes_up_the_id(client: TestClient, demo: Tenant) -> None:
    requests = [
        ("GET", "/healthz", {}),
        ("GET", "/demo/api/v1/nodes", demo.key_header),
        ("GET", "/demo/api/v1/nodes", {}),
        ("POST", "/oauth/token", {}),
        ("GET", "/apollo/devices/x/timeseries/samples", {}),
        ("GET", "/nowhere", {}),
    ]
    made = set()
    for method, path, headers in requests:
        sent = client.request(method, path, headers={**headers, "x-correlation-id": "abc-123"})
        assert sent.headers["x-correlation-id"] == "abc-123", path
        fresh = client.request(method, path, headers=headers)
        made.add(fresh.headers["x-correlation-id"])
    assert len(made) == len(requests)
    forged = client.get("/healthz", headers={"x-correlation-id": "a\tb"})
    assert forged.headers["x-correlation-id"] != "a\tb"


def test_log_lines_are_json_with_the_id(client: TestClient, demo: Tenant) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("wattbase.request")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        client.get("/healthz", headers={"x-correlation-id": "trace-42"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines
    assert {line["correlation_id"] for line in lines} == {"trace-42"}
    assert lines[-1]["message"] == "GET /healthz 200"
    assert lines[-1]["level"] == "info"
