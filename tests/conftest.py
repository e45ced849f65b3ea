"""Shared fixtures: a real store on every backend, an in-process app, a real server process."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from wattbase.api import create_app
from wattbase.config import Settings
from wattbase.core.access import create_domain, create_key
from wattbase.core.demo import DEMO_DOMAIN, DEMO_SECRET, ensure_demo
from wattbase.model.tenancy import ALL_SCOPES
from wattbase.storage import open_store
from wattbase.storage.base import Store

BACKENDS = ["embedded"]


def settings_for(backend: str, tmp_path: Path, **overrides: object) -> Settings:
    if backend != "embedded":
        raise AssertionError(f"unknown backend {backend}")
    return Settings(data_dir=tmp_path / "data", **overrides)  # type: ignore[arg-type]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


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

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "wattbase", "serve", *(["--demo"] if self.demo else [])],
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
    running = Server(url=f"http://127.0.0.1:{port}", env=env)
    running.start()
    try:
        yield running
    finally:
        running.stop()
