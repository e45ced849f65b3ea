"""Killing the server in the middle of an upload leaves no half-stored dataset behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import Server

AUTH = ("demo", "demo-secret")
BOUNDARY = "wattbase-test-boundary"


def _slow_multipart(sent: threading.Event, hold: threading.Event) -> Iterator[bytes]:
    yield (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="format"\r\n\r\nmisc\r\n'
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    for _ in range(8):
        yield b"x" * 65536
    sent.set()
    # Never finish: the server is killed while it waits for the rest.
    hold.wait(30)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def _upload(url: str, sent: threading.Event, hold: threading.Event, errors: list[str]) -> None:
    try:
        httpx.post(
            f"{url}/api/v2/datasets",
            content=_slow_multipart(sent, hold),
            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            auth=AUTH,
            timeout=30,
        )
    except httpx.HTTPError as exc:
        errors.append(type(exc).__name__)


@pytest.mark.server
def test_kill_during_upload_leaves_nothing_visible(
    server: Server, backend: str, tmp_path: Path
) -> None:
    complete = httpx.post(
        f"{server.url}/api/v2/datasets",
        json={"name": "kept", "format": "json", "content": "e30="},
        auth=AUTH,
        timeout=10,
    )
    assert complete.status_code == 201, complete.text

    sent, hold, errors = threading.Event(), threading.Event(), list[str]()
    uploader = threading.Thread(target=_upload, args=(server.url, sent, hold, errors))
    uploader.start()
    assert sent.wait(20), "the upload did not start"
    assert server.process is not None
    server.process.kill()
    server.process.wait(10)
    hold.set()
    uploader.join(30)
    assert errors, "the upload should have failed with the server gone"

    # What an upload killed while writing its spool file would leave behind. (PostgreSQL
    # spools beside other live processes, so it only sweeps spool files hours old.)
    leftover = tmp_path / "data" / "blobs" / "tmp" / "spool-leftover"
    if backend == "embedded":
        leftover.write_bytes(b"half a document")
    server.stop()
    server.start()

    listed = httpx.get(f"{server.url}/api/v2/datasets", auth=AUTH, timeout=10)
    assert listed.status_code == 200
    assert [d["name"] for d in listed.json()] == ["kept"]
    assert not leftover.exists()
    if backend == "embedded":
        blobs = [p.name for p in (tmp_path / "data" / "blobs").glob("??/*")]
    else:
        with psycopg.connect(server.env["WATTBASE_DATABASE_URL"]) as conn:
            blobs = [r[0] for r in conn.execute("SELECT checksum FROM blobs").fetchall()]
    assert blobs == [complete.json()["checksum"]]
