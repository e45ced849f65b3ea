"""``x-correlation-id``: taken from the request (or made up), echoed on the response, and
attached to every log line written while the request runs."""

from __future__ import annotations

import logging
import re
import time
from contextvars import ContextVar
from uuid import uuid4

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-correlation-id"
# Anything else (too long, control characters) would let a client forge log lines.
_SAFE = re.compile(rb"[A-Za-z0-9._:/+=@-]{1,128}")
_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)
log = logging.getLogger("wattbase.request")


def current_id() -> str | None:
    return _current.get()


class CorrelationId:
    """Pure ASGI, so streaming answers and error answers pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER, b"")
        ident = given.decode() if _SAFE.fullmatch(given) else str(uuid4())
        # Not reset afterwards: the 500 handler runs outside this middleware and reads it.
        _current.set(ident)
        began = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, ident.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={"ms": round((time.perf_counter() - began) * 1000, 2)},
            )
