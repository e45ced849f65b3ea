"""Backups of the embedded store: a snapshot taken over HTTP restores into a fresh folder
with every object and every point; the endpoint is the operator's alone."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Server, Tenant, free_port
from wattbase.api import create_app
from wattbase.config import Settings
from wattbase.core import backups
from wattbase.core.access import authenticate, create_domain, create_key, revoke_key
from wattbase.core.demo import DEMO_DOMAIN, DEMO_SECRET, ensure_demo
from wattbase.core.tokens import SIGNING_SECRET
from wattbase.errors import InvalidRequest
from wattbase.model.datasets import DatasetFilter
from wattbase.model.query import TimeRange, ValueFilter
from wattbase.model.tenancy import ALL_SCOPES, Scope
from wattbase.model.things import SeriesFilter, ThingFilter
from wattbase.storage import open_store
from wattbase.storage.base import Store

ALL = 10_000
NODE3 = "12345678-1234-1234-1234-123456789012"
KEY = {"Authorization": f"Key {DEMO_SECRET}"}


def wattbase(
    data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wattbase", *args],
        env={**os.environ, "WATTBASE_DATA_DIR": str(data_dir), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def operator(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={"admin_domain": DEMO_DOMAIN, "backup_dir": tmp_path / "backups"}
    )


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[tuple[Settings, Store]]:
    settings = operator(Settings(data_dir=tmp_path / "data"), tmp_path)
    store = open_store(settings)
    ensure_demo(store)
    try:
        yield settings, store
    finally:
        store.close()


def fill(client: TestClient, store: Store) -> Tenant:
    """Points, things, series, datasets and keys in two domains, through the faces."""
    demo = ("demo", DEMO_SECRET)
    minutes = [(i * 0.5, 1_700_000_000 + i * 60) for i in range(3_000)]
    series = [
        {"node_id": 1, "tag": tag, "data": [{"v": v + k, "ts": ts} for v, ts in minutes]}
        for k, tag in enumerate(("heat", "flow", "temp"))
    ]
    reply = client.post("/demo/api/v1/timeseries", json=series, headers=KEY)
    assert reply.status_code == 200, reply.text
    thing = client.post("/api/v2/things", auth=demo, json={"name": "Pump house", "tags": ["x"]})
    made = client.post(
        "/api/v2/timeseries",
        auth=demo,
        json={
            "thing_uuid": thing.json()["uuid"],
            "name": "power",
            "si_unit": "kW",
            "lower_bound": 0,
            "upper_bound": 500,
            "tags": ["p"],
        },
    )
    assert made.status_code == 201, made.text
    client.post(
        f"/api/v2/timeseries/{made.json()['uuid']}/data",
        auth=demo,
        json=[{"timestamp": "2024-01-01T00:00:00Z", "value": 12.5}],
    )
    for name, fmt, content in (
        ("sheet", "toml", b'[meter]\nid = "A-17"\n'),
        ("same bytes", "toml", b'[meter]\nid = "A-17"\n'),
        ("blob", "misc", bytes(range(256)) * 40),
    ):
        encoded = base64.b64encode(content).decode()
        body = {"name": name, "format": fmt, "content": encoded, "thing_uuid": NODE3}
        assert client.post("/api/v2/datasets", auth=demo, json=body).status_code == 201
    token = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "demo",
            "client_secret": DEMO_SECRET,
        },
    )
    assert token.status_code == 200, token.text

    create_domain(store, "other", "Europe/Oslo")
    _, secret = create_key(store, "other", ALL_SCOPES, collections=frozenset({"default", "a"}))
    gone, _ = create_key(store, "other", frozenset({Scope.READ}), name="old")
    revoke_key(store, "other", gone.uuid)
    node = client.post(
        "/other/api/v1/nodes", headers={"Authorization": f"Key {secret}"}, json={"name": "Node"}
    )
    assert node.status_code in (200, 201), node.text
    reply = client.post(
        "/other/api/v1/timeseries",
        headers={"Authorization": f"Key {secret}"},
        json=[{"node_id": node.json()["id"], "tag": "t", "data": [{"v": 1.0, "ts": 1.6e9}]}],
    )
    assert reply.status_code == 200, reply.text
    return Tenant("other", secret)


def everything(store: Store) -> dict[str, Any]:
    """Every object and every point of the store, in a comparable form."""
    seen: dict[str, Any] = {}
    with store.read() as session:
        domains = session.list_domains()
        seen["domains"] = domains
        seen["secret"] = session.get_secret(SIGNING_SECRET)
        for domain in domains:
            name = domain.name
            seen[f"{name}.keys"] = session.list_keys(name)
            seen[f"{name}.things"] = session.list_things(name, ThingFilter(limit=ALL))
            all_series = session.list_series(name, SeriesFilter(limit=ALL))
            seen[f"{name}.series"] = all_series
            for series in all_series:
                ts, v = session.read_points(series.sid, TimeRange(), ValueFilter(), 10**9)
                seen[f"{name}.points.{series.uuid}"] = (ts.tolist(), v.tolist())
            datasets = session.list_datasets(name, DatasetFilter(limit=ALL))
            seen[f"{name}.datasets"] = datasets
            for dataset in datasets:
                with store.blobs.open(dataset.checksum) as blob:
                    seen[f"{name}.bytes.{dataset.uuid}"] = blob.read()
    return seen


def test_backup_restores_every_object_and_point(
    embedded: tuple[Settings, Store], tmp_path: Path
) -> None:
    settings, store = embedded
    with TestClient(create_app(settings, store=store)) as client:
        other = fill(client, store)
        reply = client.post("/admin/backup", auth=("demo", DEMO_SECRET))
        assert reply.status_code == 201, reply.text
        expected = everything(store)
        # Written after the snapshot: must not be in the restored copy.
        client.post(
            "/demo/api/v1/timeseries",
            headers=KEY,
            json=[{"node_id": 2, "tag": "late", "data": [{"v": 1, "ts": 1_700_000_000}]}],
        )
    made = reply.json()
    assert made["tables"]["points"] == 3 * 3_000 + 2 and made["blobs"] == 2
    snapshot = Path(made["path"])
    assert snapshot.parent == tmp_path / "backups" and (snapshot / "manifest.json").exists()

    fresh = Settings(data_dir=tmp_path / "fresh")
    restored = backups.restore(snapshot, fresh)
    assert restored.points == 3 * 3_000 + 2
    copy = open_store(fresh)
    try:
        got = everything(copy)
        authenticate(copy, "other", other.secret)
        authenticate(copy, "demo", DEMO_SECRET)
        with copy.write() as session:
            # The sequence came along: a new series does not take a stored one's number.
            assert session.next_sid() > max(s.sid for s in expected["demo.series"])
    finally:
        copy.close()
    assert "late" in [s.name for s in everything(store)["demo.series"]]
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key] == expected[key], key
    assert len(got["demo.datasets"]) == 3 and len(got["other.keys"]) == 2


def test_restore_refuses_a_folder_with_anything_in_it(
    embedded: tuple[Settings, Store], tmp_path: Path
) -> None:
    settings, store = embedded
    snapshot = backups.backup(store, tmp_path / "snap")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(InvalidRequest, match="not an empty folder"):
        backups.restore(snapshot_path := tmp_path / "snap", Settings(data_dir=busy))
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    with pytest.raises(InvalidRequest, match="not an empty folder"):
        backups.backup(store, busy)
    # An empty folder is fine, and so is a folder that does not exist yet.
    (tmp_path / "empty").mkdir()
    assert backups.restore(snapshot_path, Settings(data_dir=tmp_path / "empty")).points == 0
    assert snapshot.points == 0


def test_restore_refuses_a_damaged_snapshot(
    embedded: tuple[Settings, Store], tmp_path: Path
) -> None:
    settings, store = embedded
    with TestClient(create_app(settings, store=store)) as client:
        fill(client, store)
    snapshot = backups.backup(store, tmp_path / "snap")
    blob = next((tmp_path / "snap" / "blobs").glob("??/*"))
    blob.write_bytes(b"bit rot")
    with pytest.raises(InvalidRequest, match="damaged"):
        backups.restore(tmp_path / "snap", Settings(data_dir=tmp_path / "fresh"))
    assert not (tmp_path / "fresh").exists()
    assert snapshot.blobs


def test_only_the_operators_admin_key_may_back_up(
    settings: Settings, store: Store, demo: Tenant, other: Tenant, tmp_path: Path
) -> None:
    _, reader = create_key(store, DEMO_DOMAIN, frozenset({Scope.READ, Scope.WRITE}))
    with TestClient(create_app(settings, store=store)) as client:
        off = client.post("/admin/backup", auth=("demo", DEMO_SECRET))
        assert off.status_code == 403 and "WATTBASE_ADMIN_DOMAIN" in off.json()["error"]
    with TestClient(create_app(operator(settings, tmp_path), store=store)) as client:
        for auth in (("other", other.secret), ("demo", reader)):
            refused = client.post("/admin/backup", auth=auth)
            assert refused.status_code == 403, refused.text
            assert refused.json()["type"] == "forbidden"
        assert client.post("/admin/backup", auth=("demo", "wrong")).status_code == 401
        assert not (tmp_path / "backups").exists()
        doc = client.get("/openapi.json").json()["paths"]["/admin/backup"]["post"]
        assert doc["x-required-scopes"] == ["admin"]
        assert {"201", "401", "403"} <= set(doc["responses"])


@pytest.mark.server
def test_cli_backs_up_a_stopped_folder_and_a_running_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert wattbase(data, "domain", "create", "acme").returncode == 0
    secret = wattbase(data, "key", "create", "--domain", "acme", "--scopes", "admin").stdout.strip()
    stopped = wattbase(data, "backup", str(tmp_path / "cold"))
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == str(tmp_path / "cold")

    port = free_port()
    env = {
        **os.environ,
        "WATTBASE_DATA_DIR": str(data),
        "WATTBASE_PORT": str(port),
        "WATTBASE_LOG_LEVEL": "warning",
        "WATTBASE_ADMIN_DOMAIN": "acme",
        "WATTBASE_BACKUP_DIR": str(tmp_path / "server-backups"),
    }
    server = Server(url=f"http://127.0.0.1:{port}", env=env, demo=False)
    server.start()
    try:
        plain = {"WATTBASE_PORT": str(port), "WATTBASE_ADMIN_DOMAIN": "acme"}
        refused = wattbase(data, "backup", str(tmp_path / "hot"), env=plain)
        assert refused.returncode == 1 and "WATTBASE_ADMIN_SECRET" in refused.stderr
        hot = wattbase(
            data, "backup", str(tmp_path / "hot"), env={**plain, "WATTBASE_ADMIN_SECRET": secret}
        )
        assert hot.returncode == 0, hot.stderr
        again = wattbase(data, "restore", str(tmp_path / "hot"))
        assert again.returncode == 1 and "not an empty folder" in again.stderr
    finally:
        server.stop()
    assert list((tmp_path / "server-backups").iterdir()) == []  # moved to PATH
    restored = wattbase(tmp_path / "fresh", "restore", str(tmp_path / "hot"))
    assert restored.returncode == 0, restored.stderr
    listed = wattbase(tmp_path / "fresh", "key", "list", "--domain", "acme")
    assert "admin" in listed.stdout


@pytest.mark.server
def test_a_snapshot_taken_while_writing_holds_whole_requests(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "WATTBASE_DATA_DIR": str(tmp_path / "data"),
        "WATTBASE_PORT": str(port),
        "WATTBASE_LOG_LEVEL": "warning",
        "WATTBASE_ADMIN_DOMAIN": DEMO_DOMAIN,
        "WATTBASE_BACKUP_DIR": str(tmp_path / "backups"),
    }
    server = Server(url=f"http://127.0.0.1:{port}", env=env)
    server.start()
    done = threading.Event()
    sizes: dict[int, int] = {}

    def write() -> None:
        # Request n holds n % 700 + 1 points valued n, on two series, at times no other uses.
        with httpx.Client(base_url=server.url, headers=KEY, timeout=60) as client:
            n = 0
            while not done.is_set():
                n += 1
                size = n % 700 + 1
                data = [{"v": n, "ts": 1_600_000_000 + n * 1_000 + i} for i in range(size)]
                body = [{"node_id": 1, "tag": tag, "data": data} for tag in ("a", "b")]
                reply = client.post("/demo/api/v1/timeseries?silent=true", json=body)
                assert reply.status_code == 204, reply.text
                sizes[n] = 2 * size

    writer = threading.Thread(target=write)
    writer.start()
    try:
        taken = []
        for _ in range(3):
            time.sleep(0.3)
            reply = httpx.post(f"{server.url}/admin/backup", auth=("demo", DEMO_SECRET), timeout=60)
            assert reply.status_code == 201, reply.text
            taken.append(Path(reply.json()["path"]))
    finally:
        done.set()
        writer.join(60)
        server.stop()
    for number, snapshot in enumerate(taken):
        fresh = Settings(data_dir=tmp_path / f"restored-{number}")
        backups.restore(snapshot, fresh)
        copy = open_store(fresh)
        try:
            with copy.read() as session:
                values: list[float] = []
                for series in session.list_series(DEMO_DOMAIN, SeriesFilter(limit=ALL)):
                    _, v = session.read_points(series.sid, TimeRange(), ValueFilter(), 10**9)
                    values += v.tolist()
        finally:
            copy.close()
        seen = Counter(int(v) for v in values)
        assert seen, "the snapshot should hold some requests"
        assert {n: c for n, c in seen.items() if c != sizes[n]} == {}
        assert sorted(seen) == list(range(1, max(seen) + 1)), "an acknowledged request is missing"
