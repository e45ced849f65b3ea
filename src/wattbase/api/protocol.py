"""The HTTP/1.1 protocol the server runs: uvicorn's httptools one, with two guards it lacks.

- **Header size**: the request line and headers together may hold ``max_header_bytes``; past
  that the client gets 431 (in the shape of the face its path belongs to) and the
  connection closes, before the rest is buffered.
- **Header timeout**: a connection must finish sending a request's headers within
  ``header_timeout`` seconds of opening (or of starting that request), else it is closed.
  Without it a client that sends a header line now and then (slowloris) keeps a
  connection forever; uvicorn only times out idle keep-alive connections.

Stalled request bodies are the app's business (``api/limits.py``, ``ReadTimeout``).
"""

from __future__ import annotations

import asyncio
import functools
import urllib.parse
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from wattbase.api.errors import error_at
from wattbase.config import Settings

REASON_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\n"


class GuardedHttpTools(HttpToolsProtocol):
    max_header_bytes = 16 * 1024
    header_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False

    # The header timer runs from the connection (or the request's first byte) to the end
    # of its headers.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.logger.info("closed a connection that sent no complete headers in time")
            self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Idle keep-alive connections are uvicorn's (timeout_keep_alive); the next request's
        # first byte arms the header timer again.
        self._disarm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._arm()

    def on_url(self, url: bytes) -> None:
        if self._refused:
            return
        super().on_url(url)
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._refused:
            return
        super().on_header(name, value)
        self._count(len(name) + len(value) + 4)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._disarm()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_header_bytes:
            self._refuse()

    def _refuse(self) -> None:
        self._refused = True
        self._disarm()
        path = urllib.parse.urlsplit(self.url.decode("latin-1")).path or "/"
        answer = error_at(
            path,
            431,
            "headers_too_large",
            f"the request line and headers are over {self.max_header_bytes} bytes "
            "(WATTBASE_MAX_HEADER_BYTES)",
        )
        head = [REASON_431]
        head += [k + b": " + v + b"\r\n" for k, v in answer.raw_headers]
        head.append(b"connection: close\r\n\r\n")
        self.transport.write(b"".join(head) + bytes(answer.body))
        self.transport.close()


def protocol_for(settings: Settings) -> type[GuardedHttpTools]:
    """The protocol class with this server's limits (uvicorn instantiates it per connection)."""
    return type(
        "WattbaseHttp",
        (GuardedHttpTools,),
        {
            "max_header_bytes": settings.max_header_bytes,
            "header_timeout": settings.header_timeout_seconds,
        },
    )


@functools.cache
def _env_settings() -> Settings:
    return Settings()


class EnvHttpTools(GuardedHttpTools):
    """For worker processes, which import the protocol by name: limits from the environment."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        settings = _env_settings()
        self.max_header_bytes = settings.max_header_bytes
        self.header_timeout = settings.header_timeout_seconds
        super().__init__(*args, **kwargs)
