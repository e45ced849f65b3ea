"""Bearer tokens: expiry, revocation, scope narrowing, forgeries, and tenant separation."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.apollo_helpers import bearer, token
from tests.conftest import Tenant
from wattbase.config import Settings
from wattbase.core.access import create_key, revoke_key
from wattbase.core.tokens import seal
from wattbase.model.tenancy import Scope
from wattbase.storage import open_store
from wattbase.storage.base import Store

DEVICES = "/apollo/devices"


def _make_device(client: TestClient, access: str, device: str = "Meter-1") -> str:
    reply = client.post(
        f"{DEVICES}/{device}/timeseries",
        headers=bearer(access),
        json=[{"id": "p", "pointType": "t"}],
    )
    assert reply.status_code == 202, reply.text
    uuid: str = reply.json()["data"]["relationships"][0]["timeseriesId"]
    return uuid


def _get(client: TestClient, access: str, uuid: str, device: str = "Meter-1") -> int:
    return client.get(f"{DEVICES}/{device}/timeseries/{uuid}", headers=bearer(access)).status_code


def test_token_answer_and_errors(client: TestClient, demo: Tenant) -> None:
    reply = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "demo", "client_secret": "nope"},
    )
    assert reply.status_code == 401
    assert reply.json()["error"] == "invalid_client"
    assert reply.headers["Cache-Control"] == "no-store"
    reply = client.post("/oauth/token", data={"grant_type": "password", "client_id": "demo"})
    assert (reply.status_code, reply.json()["error"]) == (400, "unsupported_grant_type")
    form = {"grant_type": "client_credentials", "client_id": "demo", "client_secret": demo.secret}
    reply = client.post("/oauth/token", data={**form, "scope": "read superpowers"})
    assert (reply.status_code, reply.json()["error"]) == (400, "invalid_scope")


def test_token_expires_by_the_injected_clock(client: TestClient, demo: Tenant) -> None:
    now = 1_800_000_000.0
    client.app.state.clock = lambda: now  # type: ignore[attr-defined]
    access = token(client, demo.secret)
    uuid = _make_device(client, access)
    client.app.state.clock = lambda: now + 3599  # type: ignore[attr-defined]
    assert _get(client, access, uuid) == 200
    client.app.state.clock = lambda: now + 3600  # type: ignore[attr-defined]
    reply = client.get(f"{DEVICES}/Meter-1/timeseries/{uuid}", headers=bearer(access))
    assert reply.status_code == 401
    assert reply.json()["status"]["code"] == "401"
    assert "expired" in reply.json()["status"]["message"]
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoking_the_key_ends_its_tokens_at_once(
    client: TestClient, store: Store, demo: Tenant
) -> None:
    key, secret = create_key(store, "demo", frozenset({Scope.APOLLO_READ, Scope.APOLLO_WRITE}))
    access = token(client, secret)
    uuid = _make_device(client, access)
    assert _get(client, access, uuid) == 200
    revoke_key(store, "demo", key.uuid)
    assert _get(client, access, uuid) == 401


def test_scopes_narrow_and_name_what_is_missing(client: TestClient, demo: Tenant) -> None:
    uuid = _make_device(client, token(client, demo.secret))
    reader = token(client, demo.secret, scope="apollo_read")
    assert _get(client, reader, uuid) == 200
    reply = client.post(f"{DEVICES}/Meter-1/timeseries", headers=bearer(reader), json=[{"id": "q"}])
    assert reply.status_code == 403
    assert "apollo_write" in reply.json()["status"]["message"]
    writer = token(client, demo.secret, scope="apollo_write")
    reply = client.get(f"{DEVICES}/Meter-1/timeseries/{uuid}", headers=bearer(writer))
    assert reply.status_code == 403
    assert "apollo_read" in reply.json()["status"]["message"]


def test_a_token_cannot_widen_its_keys_scopes(
    client: TestClient, store: Store, demo: Tenant
) -> None:
    _, secret = create_key(store, "demo", frozenset({Scope.APOLLO_READ}))
    form = {"grant_type": "client_credentials", "client_id": "demo", "client_secret": secret}
    reply = client.post("/oauth/token", data={**form, "scope": "apollo_read apollo_write"})
    assert (reply.status_code, reply.json()["error"]) == (400, "invalid_scope")
    reply = client.post("/oauth/token", data=form)
    assert reply.json()["scope"] == "apollo_read"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _payload(access: str) -> dict[str, object]:
    body = access.split(".")[0]
    loaded: dict[str, object] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return loaded


def test_forged_tokens_are_refused(
    client: TestClient, store: Store, demo: Tenant, other: Tenant, tmp_path: Path
) -> None:
    genuine = token(client, demo.secret, scope="apollo_read")
    uuid = _make_device(client, token(client, demo.secret))
    assert _get(client, genuine, uuid) == 200
    body, mac = genuine.split(".")
    flipped = mac[:10] + ("A" if mac[10] != "A" else "B") + mac[11:]
    widened = {**_payload(genuine), "s": ["admin", "apollo_read", "apollo_write"]}
    altered = _b64(json.dumps(widened).encode()) + "." + mac
    # Signed with the real key, but for a domain the key does not belong to.
    wrong_domain = seal(store, "access", {**_payload(genuine), "d": "other"})
    # A cursor is signed by the same key, but for another purpose.
    cursor = seal(store, "page", _payload(genuine))
    elsewhere = open_store(Settings(data_dir=tmp_path / "elsewhere"))
    try:
        foreign = seal(elsewhere, "access", _payload(genuine))
    finally:
        elsewhere.close()
    for forged in (body + "." + flipped, altered, wrong_domain, cursor, foreign, body, "x.y"):
        assert _get(client, forged, uuid) == 401, forged


def test_the_other_tenant_sees_none_of_demos_devices(
    client: TestClient, demo: Tenant, other: Tenant
) -> None:
    uuid = _make_device(client, token(client, demo.secret))
    theirs = token(client, other.secret, domain="other")
    assert _get(client, theirs, uuid) == 404
    reply = client.get(
        f"{DEVICES}/Meter-1/timeseries/samples",
        headers=bearer(theirs),
        params={"timeseries_ids": uuid},
    )
    assert reply.status_code == 404
    # Their own device of the same name is theirs alone, and demo's series is not on it.
    _make_device(client, theirs)
    reply = client.post(
        f"{DEVICES}/Meter-1/timeseries/samples",
        headers=bearer(theirs),
        json=[{"timeseriesId": uuid, "val": 1.0, "timestamp": "2024-01-01T00:00:00Z"}],
    )
    assert reply.status_code == 404
    mine = client.get(
        f"{DEVICES}/Meter-1/timeseries/samples",
        headers=bearer(token(client, demo.secret)),
        params={"timeseries_ids": uuid},
    )
    assert mine.status_code == 200
    assert mine.json()["paging"]["totalCount"] == 0
    # demo's secret is no use for the other domain.
    reply = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "other",
            "client_secret": "demo-secret",
        },
    )
    assert reply.status_code == 401
