"""Things, series, devices and datasets made before a fuzz run, so that ids hit real rows."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from fastapi.testclient import TestClient

from wattbase.core.demo import DEMO_DOMAIN, DEMO_SECRET, DEMO_THINGS

BASIC = "Basic " + base64.b64encode(f"{DEMO_DOMAIN}:{DEMO_SECRET}".encode()).decode()
KEY = f"Key {DEMO_SECRET}"


@dataclass
class Known:
    """Ids that exist in the store, by the path parameter that takes them."""

    ids: dict[str, list[str]] = field(default_factory=dict)
    bearer: str = ""

    def add(self, name: str, value: object) -> None:
        self.ids.setdefault(name, []).append(str(value))


def bearer_token(client: TestClient) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": DEMO_DOMAIN,
        "client_secret": DEMO_SECRET,
    }
    answer = client.post("/oauth/token", data=form)
    answer.raise_for_status()
    return f"Bearer {answer.json()['access_token']}"


def seed(client: TestClient) -> Known:
    """A few of everything, made through the API itself."""
    known = Known(bearer=bearer_token(client))
    basic = {"Authorization": BASIC}
    for node_id, uuid, _ in DEMO_THINGS:
        known.add("id", node_id)
        known.add("id", uuid)
        known.add("thing", uuid)
    thing = client.post("/api/v2/things", headers=basic, json={"name": "Fuzz meter"})
    thing.raise_for_status()
    known.add("thing", thing.json()["uuid"])
    for name in ("energy", "power"):
        body = {"thing_uuid": thing.json()["uuid"], "name": name, "si_unit": "kWh"}
        series = client.post("/api/v2/timeseries", headers=basic, json=body)
        series.raise_for_status()
        known.add("series", series.json()["uuid"])
        points = [
            {"v": 1.5, "ts": "2024-01-01T00:00:00Z"},
            {"v": 2.5, "ts": "2024-01-01T01:00:00Z"},
        ]
        client.post(f"/api/v2/timeseries/{series.json()['uuid']}/data", headers=basic, json=points)
    document = {
        "name": "fuzz.json",
        "format": "json",
        "content": base64.b64encode(b'{"a": 1}').decode(),
        "thing_uuid": thing.json()["uuid"],
    }
    dataset = client.post("/api/v2/datasets", headers=basic, json=document)
    dataset.raise_for_status()
    known.add("dataset", dataset.json()["uuid"])
    bearer = {"Authorization": known.bearer}
    device = client.post("/apollo/devices", headers=bearer, json={"id": "fuzz-device"})
    device.raise_for_status()
    known.add("deviceId", "fuzz-device")
    made = client.post(
        "/apollo/devices/fuzz-device/timeseries", headers=bearer, json=[{"id": "temp"}]
    )
    made.raise_for_status()
    for link in made.json()["data"]["relationships"]:
        known.add("timeseriesId", link["timeseriesId"])
    return known
