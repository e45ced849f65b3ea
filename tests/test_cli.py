"""The ``wattbase`` command, run as a real process on a real data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Server, free_port
from wattbase.api import create_app
from wattbase.config import Settings
from wattbase.core.access import hash_secret
from wattbase.core.demo import DEMO_SECRET
from wattbase.storage import open_store


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "WATTBASE_DATA_DIR": str(data_dir), "WATTBASE_LOG_LEVEL": "warning"}


def wattbase(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wattbase", *args],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )


@contextmanager
def app_on(data_dir: Path) -> Iterator[TestClient]:
    """The app in-process on the same folder; the store closes when the block ends."""
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        yield client


def test_domain_and_key_lifecycle(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = wattbase(data, "domain", "create", "acme", "--timezone", "Europe/Oslo")
    assert made.returncode == 0, made.stderr
    assert "acme" in made.stderr

    created = wattbase(data, "key", "create", "--domain", "acme", "--scopes", "read,write")
    assert created.returncode == 0, created.stderr
    lines = created.stdout.splitlines()
    assert len(lines) == 1, created.stdout  # the secret alone, so scripts can capture it
    secret = lines[0]
    assert len(secret) >= 32 and " " not in secret
    headers = {"Authorization": f"Key {secret}"}
    with app_on(data) as client:
        reply = client.post("/acme/api/v1/nodes", headers=headers, json={"name": "first node"})
        assert reply.status_code == 201, reply.text
        assert client.get("/acme/api/v1/nodes", headers=headers).status_code == 200

    listed = wattbase(data, "key", "list", "--domain", "acme")
    assert listed.returncode == 0, listed.stderr
    assert secret not in listed.stdout + listed.stderr
    (row,) = listed.stdout.splitlines()
    uuid, state, scopes, _ = row.split("\t")
    assert (state, scopes) == ("active", "read,write")

    revoked = wattbase(data, "key", "revoke", "--domain", "acme", uuid)
    assert revoked.returncode == 0, revoked.stderr
    with app_on(data) as client:
        assert client.get("/acme/api/v1/nodes", headers=headers).status_code == 401
    assert "revoked" in wattbase(data, "key", "list", "--domain", "acme").stdout


def test_mistakes_print_one_line_and_exit_1(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cases = [
        ("key", "create", "--domain", "nowhere"),
        ("domain", "create", "Not A Name"),
        ("domain", "create", "zoned", "--timezone", "Mars/Olympus"),
        ("key", "revoke", "--domain", "nowhere", "00000000-0000-0000-0000-000000000000"),
        ("key", "revoke", "--domain", "nowhere", "not-a-uuid"),
        # DuckDB is one process: several workers need PostgreSQL.
        ("serve", "--workers", "2"),
    ]
    assert wattbase(data, "domain", "create", "acme").returncode == 0
    cases.append(("key", "create", "--domain", "acme", "--scopes", "read,sudo"))
    cases.append(("domain", "create", "acme"))
    for args in cases:
        done = wattbase(data, *args)
        assert done.returncode == 1, (args, done.stderr)
        assert done.stdout == ""
        assert "Traceback" not in done.stderr
        assert done.stderr.startswith("wattbase: "), (args, done.stderr)


@pytest.mark.embedded_only("DuckDB locks its file; PostgreSQL serves CLI and servers together")
def test_commands_refuse_while_a_server_holds_the_store(server: Server) -> None:
    data = Path(server.env["WATTBASE_DATA_DIR"])
    for args in (("key", "create", "--domain", "demo"), ("domain", "create", "acme")):
        done = wattbase(data, *args)
        assert done.returncode == 1, done.stderr
        assert done.stdout == ""
        assert "Traceback" not in done.stderr
        assert "stop" in done.stderr and "HTTP API" in done.stderr
    refused = wattbase(data, "compact")
    assert refused.returncode == 1 and "stop it first, then compact" in refused.stderr
    # The server is unharmed.
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200


def test_serve_without_demo_creates_no_known_secret(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    env = {**_env(data), "WATTBASE_PORT": str(port)}
    running = Server(url=f"http://127.0.0.1:{port}", env=env, demo=False)
    running.start()
    try:
        reply = httpx.get(
            f"{running.url}/demo/api/v1/nodes",
            headers={"Authorization": f"Key {DEMO_SECRET}"},
            timeout=5,
        )
        assert reply.status_code == 401
    finally:
        running.stop()
    store = open_store(Settings(data_dir=data))
    try:
        with store.read() as session:
            assert session.find_key(hash_secret(DEMO_SECRET)) is None
            assert session.get_domain("demo") is None
    finally:
        store.close()


def test_domain_set_rate(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert wattbase(data, "domain", "create", "acme").returncode == 0
    done = wattbase(data, "domain", "set-rate", "acme", "--per-second", "5", "--burst", "10")
    assert done.returncode == 0, done.stderr
    assert "5.0/s, burst 10" in done.stderr
    store = open_store(Settings(data_dir=data))
    try:
        with store.read() as session:
            domain = session.get_domain("acme")
        assert domain is not None and (domain.rate_per_second, domain.rate_burst) == (5.0, 10)
    finally:
        store.close()
    half = wattbase(data, "domain", "set-rate", "acme", "--per-second", "5")
    assert half.returncode == 1 and "--burst" in half.stderr
    bad = wattbase(data, "domain", "set-rate", "acme", "--per-second", "0", "--burst", "1")
    assert bad.returncode == 1 and "above 0" in bad.stderr
    missing = wattbase(data, "domain", "set-rate", "nope", "--per-second", "1", "--burst", "1")
    assert missing.returncode == 1 and "nope" in missing.stderr
    back = wattbase(data, "domain", "set-rate", "acme", "--default")
    assert back.returncode == 0 and "the default" in back.stderr
