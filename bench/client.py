"""A small keep-alive HTTP client: the harness measures servers, not client libraries."""

from __future__ import annotations

import http.client


class HttpError(RuntimeError):
    pass


class Client:
    """One persistent connection to ``127.0.0.1:port``; reconnects after a failure."""

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.port = port
        self.headers = headers or {}
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        try:
            self._conn.request(method, path, body=body, headers=self.headers)
            answer = self._conn.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if answer.status >= 300:
            raise HttpError(f"{method} {path[:80]} -> {answer.status}: {data[:300]!r}")
        return data

    def get(self, path: str) -> bytes:
        return self.request("GET", path)

    def post(self, path: str, body: bytes) -> bytes:
        return self.request("POST", path, body)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
