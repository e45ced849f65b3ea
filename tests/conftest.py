"""Shared fixtures: a real store on every backend, an in-process app, a real server process."""

from __future__ import annotations

import base64
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from wattbase.api import create_app
from wattbase.config import Settings
from wattbase.core.access import create_domain, create_key
from wattbase.core.demo import DEMO_DOMAIN, DEMO_SECRET, ensure_demo
from wattbase.model.tenancy import ALL_SCOPES
from wattbase.storage import open_store
from wattbase.storage.base import Store

BACKENDS = ["embedded", "postgres"]
POSTGRES_URL = os.environ.get(
    "WATTBASE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# The URL of this run's own database, once ``pg_database`` has made it.
_test_database: dict[str, str] = {}


def settings_for(backend: str, tmp_path: Path, **overrides: object) -> Settings:
    if backend == "embedded":
        return Settings(data_dir=tmp_path / "data", **overrides)  # type: ignore[arg-type]
    if backend == "postgres":
        return Settings(
            data_dir=tmp_path / "data",
            database_url=_test_database["url"],
            **overrides,  # type: ignore[arg-type]
        )
    raise AssertionError(f"unknown backend {backend}")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh database for this run, with the schema applied; dropped at the end.

    No server at ``WATTBASE_TEST_POSTGRES_URL`` skips the PostgreSQL half, except under
    ``CI=true``, where it fails the run: CI must not pass by testing one backend.
    """
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        message = f"no PostgreSQL at {POSTGRES_URL} ({exc})".strip()
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI=true requires it", pytrace=False)
        pytest.skip(message)
    name = f"wattbase_test_{os.getpid()}_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f"CREATE DATABASE {name}")
        # A test database need not survive a crash; commits that skip the WAL flush are faster.
        admin.execute(f"ALTER DATABASE {name} SET synchronous_commit = off")
        url = with_database(POSTGRES_URL, name)
        _test_database["url"] = url
        try:
            open_store(Settings(database_url=url)).close()  # applies the migrations
            yield url
        finally:
            _test_database.pop("url", None)
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def clean_database(url: str) -> None:
    """Empty every table but the migrations (fast: TRUNCATE, not a new database)."""
    with psycopg.connect(url, autocommit=True) as conn:
        # A connection a previous test leaked in a transaction would block TRUNCATE.
        conn.execute("SET lock_timeout = '20s'")
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind = 'r' "
                "AND c.relname <> 'schema_migrations'"
            ).fetchall()
        ]
        # DELETE beats TRUNCATE on the few rows a test leaves: TRUNCATE makes new files.
        row = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM point_blocks LIMIT 5000) AS p"
        ).fetchone()
        verb = "TRUNCATE" if row is not None and row[0] >= 5_000 else "DELETE FROM"
        conn.execute(f"{verb} point_blocks")
        for table in tables:
            if table != "point_blocks":
                conn.execute(f"DELETE FROM {table}")
        conn.execute("ALTER SEQUENCE series_sid RESTART")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend in turn; PostgreSQL with every table emptied first."""
    name = str(request.param)
    if name == "postgres":
        only = request.node.get_closest_marker("embedded_only")
        if only is not None:
            pytest.skip(f"embedded store only: {only.args[0]}")
        clean_database(request.getfixturevalue("pg_database"))
    return name


@pytest.fixture
def settings(backend: str, tmp_path: Path) -> Settings:
    return settings_for(backend, tmp_path)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_store(settings)
    try:
        yield opened
    finally:
        opened.close()


@dataclass
class Tenant:
    domain: str
    secret: str

    @property
    def key_header(self) -> dict[str, str]:
        return {"Authorization": f"Key {self.secret}"}

    @property
    def basic_header(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.domain}:{self.secret}".encode()).decode()
        return {"Authorization": f"Basic {token}"}


@pytest.fixture
def demo(store: Store) -> Tenant:
    ensure_demo(store)
    return Tenant(DEMO_DOMAIN, DEMO_SECRET)


@pytest.fixture
def other(store: Store) -> Tenant:
    """A second tenant, to prove the first one's data stays invisible to it."""
    create_domain(store, "other", "UTC")
    _, secret = create_key(store, "other", ALL_SCOPES)
    return Tenant("other", secret)


@pytest.fixture
def client(settings: Settings, store: Store, demo: Tenant) -> Iterator[TestClient]:
    """The app in-process over the fixture's store, with the demo domain in it."""
    with TestClient(create_app(settings, store=store)) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    demo: bool = True
    args: tuple[str, ...] = ()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wattbase",
                "serve",
                *(["--demo"] if self.demo else []),
                *self.args,
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"server exited: {err}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not come up in 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()
        self.process = None


@pytest.fixture
def server(backend: str, tmp_path: Path) -> Iterator[Server]:
    """A real ``wattbase serve --demo`` process on a free port, stopped at the end."""
    port = free_port()
    env = {**os.environ, "WATTBASE_PORT": str(port), "WATTBASE_LOG_LEVEL": "warning"}
    env["WATTBASE_DATA_DIR"] = str(tmp_path / "data")
    env.pop("WATTBASE_DATABASE_URL", None)
    if backend == "postgres":
        env["WATTBASE_DATABASE_URL"] = _test_database["url"]
    running = Server(url=f"http://127.0.0.1:{port}", env=env)
    running.start()
    try:
        yield running
    finally:
        running.stop()
