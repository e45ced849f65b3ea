"""Against a real server: 431 for oversized headers, and stalled or idle clients cut off.

The socket timeouts here only stop a broken server from hanging the test; what is checked
is that the server answers and closes by itself.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, free_port

pytestmark = pytest.mark.embedded_only("the protocol guards run before any store is touched")
GUARD = 60.0  # seconds before the test gives up on the server closing


@pytest.fixture
def strict(backend: str, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    env = {
        **os.environ,
        "WATTBASE_PORT": str(port),
        "WATTBASE_LOG_LEVEL": "warning",
        "WATTBASE_DATA_DIR": str(tmp_path / "data"),
        "WATTBASE_MAX_HEADER_BYTES": "2000",
        "WATTBASE_HEADER_TIMEOUT_SECONDS": "1",
        "WATTBASE_BODY_TIMEOUT_SECONDS": "1",
        "WATTBASE_KEEP_ALIVE_SECONDS": "1",
    }
    running = Server(url=f"http://127.0.0.1:{port}", env=env)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _connect(server: Server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=GUARD)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; fails if it never does."""
    got = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            pytest.fail(f"the server kept the connection open; got {got[:200]!r}")
        if not chunk:
            return got
        got += chunk


def _answer(raw: bytes) -> tuple[int, dict[str, str], object]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, json.loads(body)


def test_a_stalled_body_is_answered_408_and_cut_off(strict: Server) -> None:
    with _connect(strict) as sock:
        sock.sendall(
            b"POST /demo/api/v1/timeseries HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Key demo-secret\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n[{"node_id": 1, '
        )
        status, headers, body = _answer(_read_until_closed(sock))
    assert status == 408
    assert headers["connection"] == "close"
    assert isinstance(body, dict) and "WATTBASE_BODY_TIMEOUT_SECONDS" in body["error"]
    assert body["type"] == "request_timeout"


def test_a_stalled_apollo_body_gets_the_apollo_envelope(strict: Server) -> None:
    with _connect(strict) as sock:
        sock.sendall(
            b"POST /oauth/token HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 500\r\n\r\ngrant_type=client_cre"
        )
        status, _, body = _answer(_read_until_closed(sock))
    assert status == 408
    assert isinstance(body, dict) and "WATTBASE_BODY_TIMEOUT_SECONDS" in body["error_description"]


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"],
    ids=["nothing", "half-headers"],
)
def test_a_client_that_never_finishes_its_headers_is_closed(strict: Server, sent: bytes) -> None:
    with _connect(strict) as sock:
        sock.sendall(sent)
        assert _read_until_closed(sock) == b""


def test_an_idle_keep_alive_connection_is_closed(strict: Server) -> None:
    with _connect(strict) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        raw = _read_until_closed(sock)
    assert raw.startswith(b"HTTP/1.1 200") and raw.endswith(b'{"status":"ok"}')


@pytest.mark.parametrize(
    ("path", "face"),
    [("/api/v2/things", "v2"), ("/apollo/devices/d/timeseries/samples", "apollo")],
)
def test_oversized_headers_get_431_in_the_faces_shape(strict: Server, path: str, face: str) -> None:
    with _connect(strict) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nX-Filler: {'a' * 3000}\r\n\r\n".encode())
        status, headers, body = _answer(_read_until_closed(sock))
    assert status == 431 and headers["connection"] == "close"
    assert isinstance(body, dict)
    message = body["status"]["message"] if face == "apollo" else body["error"]
    assert "WATTBASE_MAX_HEADER_BYTES" in message
    with _connect(strict) as sock:  # headers under the limit pass
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: {'a' * 1500}\r\n\r\n".encode())
        assert _read_until_closed(sock).startswith(b"HTTP/1.1 200")
