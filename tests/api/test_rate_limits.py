"""429 on every face: per key (tenant by tenant) and for failed authentications per address."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.apollo_helpers import bearer, token
from tests.conftest import Tenant, settings_for
from wattbase.api import create_app
from wattbase.core.access import create_domain, create_key, set_rate
from wattbase.core.demo import ensure_demo
from wattbase.model.tenancy import ALL_SCOPES
from wattbase.storage import open_store
from wattbase.storage.base import Store

BURST = 3


@pytest.fixture
def slow_store(backend: str, tmp_path: Path) -> Iterator[Store]:
    opened = open_store(settings_for(backend, tmp_path))
    try:
        ensure_demo(opened)
        create_domain(opened, "other", "UTC")
        yield opened
    finally:
        opened.close()


@pytest.fixture
def limited(backend: str, tmp_path: Path, slow_store: Store) -> Iterator[TestClient]:
    """Keys get BURST requests and then (practically) nothing; 3 failed logins per address."""
    settings = settings_for(
        backend,
        tmp_path,
        rate_per_second=0.001,
        rate_burst=BURST,
        auth_failures_per_second=0.001,
        auth_failures_burst=3,
    )
    with TestClient(create_app(settings, store=slow_store)) as client:
        yield client


def _other(store: Store) -> Tenant:
    _, secret = create_key(store, "other", ALL_SCOPES)
    return Tenant("other", secret)


def _assert_refused(reply: httpx.Response, limit: int) -> None:
    assert reply.status_code == 429, reply.text
    assert int(reply.headers["Retry-After"]) >= 1
    assert reply.headers["X-RateLimit-Limit"] == str(limit)
    assert reply.headers["X-RateLimit-Remaining"] == "0"


def _exhaust(client: TestClient, path: str, headers: dict[str, str], left: int) -> None:
    for n in range(left):
        reply = client.get(path, headers=headers)
        assert reply.status_code == 200, reply.text
        assert reply.headers["X-RateLimit-Remaining"] == str(left - n - 1)


def test_v1_key_is_limited_in_the_v1_error_shape(limited: TestClient) -> None:
    demo = Tenant("demo", "demo-secret")
    _exhaust(limited, "/demo/api/v1/nodes", demo.key_header, BURST)
    reply = limited.get("/demo/api/v1/nodes", headers=demo.key_header)
    _assert_refused(reply, BURST)
    body: dict[str, Any] = reply.json()
    assert body["code"] == 429 and body["type"] == "rate_limited"
    assert f"{BURST} requests" in body["error"]


def test_v2_key_is_limited_in_the_v2_error_shape(limited: TestClient) -> None:
    demo = Tenant("demo", "demo-secret")
    _exhaust(limited, "/api/v2/things", demo.basic_header, BURST)
    reply = limited.get("/api/v2/things", headers=demo.basic_header)
    _assert_refused(reply, BURST)
    assert reply.json()["type"] == "rate_limited"


def test_apollo_and_oauth_share_the_key_bucket_and_answer_in_their_shapes(
    limited: TestClient,
) -> None:
    access = token(limited, "demo-secret")  # the token request takes one token
    path = "/apollo/devices/nope/timeseries/samples?timeseries_ids=" + "0" * 32
    for _ in range(BURST - 1):
        assert limited.get(path, headers=bearer(access)).status_code == 404
    reply = limited.get(path, headers=bearer(access))
    _assert_refused(reply, BURST)
    assert reply.json()["data"] is None
    assert reply.json()["status"]["code"] == "429"
    assert "requests" in reply.json()["status"]["message"]
    form = {"grant_type": "client_credentials", "client_id": "demo", "client_secret": "demo-secret"}
    again = limited.post("/oauth/token", data=form)
    _assert_refused(again, BURST)
    assert again.json()["error"] == "invalid_request"
    assert "requests" in again.json()["error_description"]


def test_one_key_out_of_tokens_leaves_other_tenants_alone(
    limited: TestClient, slow_store: Store
) -> None:
    demo, other = Tenant("demo", "demo-secret"), _other(slow_store)
    _exhaust(limited, "/api/v2/things", demo.basic_header, BURST)
    assert limited.get("/api/v2/things", headers=demo.basic_header).status_code == 429
    assert limited.get("/demo/api/v1/nodes", headers=demo.key_header).status_code == 429
    _exhaust(limited, "/api/v2/things", other.basic_header, BURST)
    _, second = create_key(slow_store, "demo", ALL_SCOPES)  # its own bucket, too
    assert limited.get("/api/v2/things", headers=Tenant("demo", second).basic_header).is_success


def test_a_domain_rate_replaces_the_default(
    backend: str, tmp_path: Path, slow_store: Store
) -> None:
    set_rate(slow_store, "other", 0.001, 1)
    other = _other(slow_store)
    settings = settings_for(backend, tmp_path, rate_per_second=0.001, rate_burst=BURST)
    with TestClient(create_app(settings, store=slow_store)) as client:
        assert client.get("/api/v2/things", headers=other.basic_header).status_code == 200
        _assert_refused(client.get("/api/v2/things", headers=other.basic_header), 1)
        _exhaust(client, "/api/v2/things", Tenant("demo", "demo-secret").basic_header, BURST)
    set_rate(slow_store, "other", None, None)
    with TestClient(create_app(settings, store=slow_store)) as client:
        _exhaust(client, "/api/v2/things", other.basic_header, BURST)


def test_failed_logins_are_limited_per_address_on_every_face(limited: TestClient) -> None:
    wrong = Tenant("demo", "not-the-secret")
    assert limited.get("/demo/api/v1/nodes", headers=wrong.key_header).status_code == 401
    assert limited.get("/api/v2/things", headers=wrong.basic_header).status_code == 401
    form = {"grant_type": "client_credentials", "client_id": "demo", "client_secret": "guess"}
    assert limited.post("/oauth/token", data=form).status_code == 401
    # Out of failures: refused before the secret is looked at, the right one included.
    _assert_refused(limited.get("/demo/api/v1/nodes", headers=wrong.key_header), 3)
    right = Tenant("demo", "demo-secret")
    reply = limited.get("/api/v2/things", headers=right.basic_header)
    _assert_refused(reply, 3)
    assert "failed authentications" in reply.json()["error"]
    apollo = limited.get("/apollo/devices/x/timeseries/samples", headers=bearer("forged.token"))
    _assert_refused(apollo, 3)
    assert apollo.json()["status"]["code"] == "429"
    refused = limited.post("/oauth/token", data=form)
    _assert_refused(refused, 3)
    assert "error_description" in refused.json()


def test_forged_bearer_tokens_count_and_expired_ones_do_not(limited: TestClient) -> None:
    access = token(limited, "demo-secret")
    limited.app.state.clock = lambda: 4e9  # type: ignore[attr-defined]
    for _ in range(5):
        reply = limited.get("/apollo/devices/x/timeseries/samples", headers=bearer(access))
        assert reply.status_code == 401, reply.text
    samples = "/apollo/devices/x/timeseries/samples"
    for _ in range(3):
        assert limited.get(samples, headers=bearer("forged.token")).status_code == 401
    forged = limited.get(samples, headers=bearer("forged.token"))
    _assert_refused(forged, 3)


def test_missing_credentials_are_not_counted(limited: TestClient) -> None:
    for _ in range(6):
        assert limited.get("/api/v2/things").status_code == 401
    assert limited.get(
        "/api/v2/things", headers=Tenant("demo", "demo-secret").basic_header
    ).is_success
