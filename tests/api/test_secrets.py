"""Secrets stay secret: not in the logs, not in error bodies; no traces or SQL leak; CORS is
off unless configured."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Server, Tenant, free_port, settings_for
from wattbase.api import create_app
from wattbase.config import Settings
from wattbase.core.access import create_domain, create_key, hash_secret
from wattbase.model.tenancy import ALL_SCOPES
from wattbase.storage import open_store
from wattbase.storage.base import Store
from wattbase.storage.embedded import EmbeddedStore


def _log_server(backend: str, tmp_path: Path, log: Path) -> tuple[Server, str]:
    """A server (not in demo mode, whose secret is public) and the secret of its one key."""
    port = free_port()
    env = {
        **os.environ,
        "WATTBASE_PORT": str(port),
        "WATTBASE_LOG_LEVEL": "debug",
        "WATTBASE_DATA_DIR": str(tmp_path / "data"),
    }
    settings = settings_for(backend, tmp_path)
    if settings.database_url:
        env["WATTBASE_DATABASE_URL"] = settings.database_url
    store = open_store(settings)
    try:
        create_domain(store, "acme")
        _, secret = create_key(store, "acme", ALL_SCOPES)
    finally:
        store.close()
    server = Server(url=f"http://127.0.0.1:{port}", env=env, demo=False)
    with log.open("wb") as out:
        # Logs to a file, so a chatty debug log cannot fill a pipe and stall the server.
        server.process = subprocess.Popen(
            [sys.executable, "-m", "wattbase", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    return server, secret


def _wait_up(server: Server) -> None:
    for _ in range(300):
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert server.process is not None and server.process.poll() is None
        time.sleep(0.1)
    pytest.fail("the server did not come up")


def test_no_secret_reaches_the_logs(backend: str, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server, secret = _log_server(backend, tmp_path, log)
    try:
        _wait_up(server)
        url = server.url
        basic = base64.b64encode(f"acme:{secret}".encode()).decode()
        wrong = "wb_wrong-secret-that-must-not-be-logged"
        token = httpx.post(
            f"{url}/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "acme", "client_secret": secret},
        ).json()["access_token"]
        samples = "/apollo/devices/x/timeseries/samples"
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        grant = b"grant_type=client_credentials"
        calls = [
            ("GET", "/acme/api/v1/nodes", {"Authorization": f"Key {secret}"}, None),
            ("GET", "/acme/api/v1/nodes", {"Authorization": f"Key {wrong}"}, None),
            ("GET", "/api/v2/things", {"Authorization": f"Basic {basic}"}, None),
            ("POST", "/api/v2/things", {"Authorization": f"Basic {basic}"}, b"{bad json"),
            ("GET", samples, {"Authorization": f"Bearer {token}"}, None),
            ("GET", samples, {"Authorization": f"Bearer {wrong}"}, None),
            ("POST", "/oauth/token", {**form, "Authorization": f"Basic {basic}"}, grant),
            ("POST", "/oauth/token", form,
             grant + f"&client_id=acme&client_secret={wrong}".encode()),
        ]  # fmt: skip
        for method, path, headers, body in calls:
            reply = httpx.request(method, url + path, headers=headers, content=body)
            assert reply.status_code < 500, reply.text
            # (A token request answers a token, the same one within the same second.)
            shown = (
                (secret, basic, wrong) if path == "/oauth/token" else (secret, basic, token, wrong)
            )
            for leaked in shown:
                assert leaked not in reply.text
    finally:
        server.stop()
    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["logger"] == "wattbase.request"]
    assert len(requests) >= len(calls)  # the log really holds these requests
    for leaked in (secret, basic, token, wrong):
        assert leaked not in text


@pytest.fixture
def fragile(settings: Settings, store: Store, demo: Tenant) -> Iterator[TestClient]:
    app = create_app(settings, store=store)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@contextmanager
def _broken(settings: Settings, store: Store, tables: Sequence[str]) -> Iterator[None]:
    """Rename tables away, so queries on them fail inside the database as on a broken
    store; renamed back afterwards (the PostgreSQL database is shared by the run)."""

    def rename(sql: str) -> None:
        if settings.database_url:
            with psycopg.connect(settings.database_url, autocommit=True) as conn:
                conn.execute(sql)
        else:
            assert isinstance(store, EmbeddedStore)
            with store.write() as session:
                session._changing(sql)  # so the store drops the rows it cached

    for table in tables:
        rename(f"ALTER TABLE {table} RENAME TO {table}_gone")
    try:
        yield
    finally:
        for table in tables:
            rename(f"ALTER TABLE {table}_gone RENAME TO {table}")


LEAKS = ("Traceback", "SELECT", "FROM", "duckdb", "Catalog", "_gone", 'File "', "line ")


def _clean(reply: httpx.Response) -> None:
    assert reply.status_code == 500
    assert reply.headers["content-type"] == "application/json"
    for leak in LEAKS:
        assert leak not in reply.text, reply.text


def test_internal_errors_carry_no_trace_and_no_sql(
    fragile: TestClient, settings: Settings, store: Store
) -> None:
    demo = Tenant("demo", "demo-secret")
    access = fragile.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "demo",
            "client_secret": "demo-secret",
        },
    ).json()["access_token"]
    with _broken(settings, store, ["things"]):
        _internal_errors(fragile, demo, access)
    with _broken(settings, store, ["api_keys"]):
        oauth = fragile.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "demo",
                "client_secret": "demo-secret",
            },
        )
    _clean(oauth)
    assert oauth.json()["error"] == "server_error"


def _internal_errors(fragile: TestClient, demo: Tenant, access: str) -> None:
    v1 = fragile.get("/demo/api/v1/nodes", headers=demo.key_header)
    _clean(v1)
    assert v1.json() == {
        "error": "internal error",
        "code": 500,
        "type": "internal_error",
        "param": None,
    }
    _clean(fragile.get("/api/v2/things", headers=demo.basic_header))
    apollo = fragile.get(
        "/apollo/devices/d/timeseries/samples",
        params={"timeseries_ids": "00000000-0000-4000-8000-000000000000"},
        headers={"Authorization": f"Bearer {access}"},
    )
    _clean(apollo)
    assert apollo.json() == {"status": {"message": "internal error", "code": "500"}, "data": None}


def test_cors_is_off_by_default(client: TestClient) -> None:
    preflight = client.options(
        "/api/v2/things",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    reply = client.get(
        "/api/v2/things",
        headers={"Origin": "https://app.example", **Tenant("demo", "demo-secret").basic_header},
    )
    assert reply.status_code == 200
    assert "access-control-allow-origin" not in reply.headers


def test_cors_allows_the_configured_origins_only(
    backend: str, tmp_path: Path, store: Store, demo: Tenant
) -> None:
    settings = settings_for(
        backend, tmp_path, cors_origins="https://app.example, https://b.example"
    )
    with TestClient(create_app(settings, store=store)) as client:
        preflight = client.options(
            "/api/v2/things",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        reply = client.get(
            "/api/v2/things", headers={"Origin": "https://b.example", **demo.basic_header}
        )
        assert reply.headers["access-control-allow-origin"] == "https://b.example"
        assert "x-ratelimit-remaining" in reply.headers["access-control-expose-headers"].lower()
        stranger = client.options(
            "/api/v2/things",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert stranger.status_code == 400
        assert "access-control-allow-origin" not in stranger.headers


def test_a_key_secret_is_never_shown_again(store: Store, demo: Tenant, client: TestClient) -> None:
    key, secret = create_key(store, "demo", ALL_SCOPES)
    with store.read() as session:
        listed = session.list_keys("demo")
        found = session.find_key(hash_secret(secret))
    assert key in listed and secret not in repr(listed)
    assert found is not None and secret.encode() not in found[1]
