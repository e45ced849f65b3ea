"""Helpers for the v2 tests: make series over HTTP, and bulk points through the core."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from wattbase.core.access import authenticate
from wattbase.core.demo import DEMO_DOMAIN, DEMO_SECRET, DEMO_THINGS
from wattbase.core.writes import ByUuid, PointsIn, write_points
from wattbase.model.points import WriteMode
from wattbase.storage.base import Store

BUILDING = str(DEMO_THINGS[0][1])


def make_series(client: TestClient, demo: Tenant, **fields: Any) -> dict[str, Any]:
    body = {"thing_uuid": BUILDING, "name": "energy", **fields}
    reply = client.post("/api/v2/timeseries", json=body, headers=demo.basic_header)
    assert reply.status_code == 201, reply.text
    created: dict[str, Any] = reply.json()
    return created


def bulk_write(store: Store, uuid: str, ts: np.ndarray, v: np.ndarray) -> None:
    """Many points at once, straight through the write engine (JSON would only be slower)."""
    caller = authenticate(store, DEMO_DOMAIN, DEMO_SECRET)
    from uuid import UUID

    batch = PointsIn(ByUuid(UUID(uuid)), ts.astype(np.int64), v.astype(np.float64), "uuid")
    write_points(store, caller, [batch], WriteMode.INSERT)
