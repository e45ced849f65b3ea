"""Request body limits, enforced while the body streams in (413 before it is all read)."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wattbase.api.errors import BodyRejected, error_at
from wattbase.core.ratelimit import Decision
from wattbase.errors import PayloadTooLarge, RequestTimeout


class BodyLimit:
    """Refuse bodies over ``limit`` bytes: by Content-Length up front, else while reading.

    A body that outgrows the limit mid-stream raises ``BodyRejected`` inside the app, whose
    error handlers answer 413 in the shape of the face. ``paths`` gives other limits to
    path prefixes (the longest matching prefix wins), e.g. larger ones for dataset uploads,
    each with the setting that sets it, which the error names.
    """

    def __init__(
        self, app: ASGIApp, limit: int, paths: dict[str, tuple[int, str]] | None = None
    ) -> None:
        self.app = app
        self.default = (limit, "WATTBASE_MAX_BODY_BYTES")
        self.paths = sorted((paths or {}).items(), key=lambda item: -len(item[0]))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit, setting = next(
            (rule for prefix, rule in self.paths if path.startswith(prefix)), self.default
        )
        refusal = f"the request body is over the limit of {limit} bytes ({setting})"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            error = PayloadTooLarge(refusal)
            response = error_at(path, error.status, error.type, error.message)
            await response(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyRejected(PayloadTooLarge(refusal))
            return message

        await self.app(scope, counting_receive, send)


class RateHeaders:
    """``X-RateLimit-Limit`` and ``X-RateLimit-Remaining`` on answers to a rate-limited key.

    The auth dependencies leave the key's figures in the request state; this reads them
    when the answer starts, whatever route or handler produced it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_rate(message: Message) -> None:
            decision = scope.get("state", {}).get("rate")
            if message["type"] == "http.response.start" and isinstance(decision, Decision):
                names = {k.lower() for k, _ in message.get("headers", [])}
                if b"x-ratelimit-limit" not in names:
                    extra = [
                        (b"x-ratelimit-limit", str(decision.limit).encode()),
                        (b"x-ratelimit-remaining", str(decision.remaining).encode()),
                    ]
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_rate)


class ReadTimeout:
    """408 when a client stops sending its body: each chunk must come within ``seconds``.

    The wait is per chunk, as nginx's ``client_body_timeout``, so a slow but steady upload
    passes and a stalled one frees its worker. The answer closes the connection.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        more = True

        async def timed_receive() -> Message:
            nonlocal more
            if not more:
                # The body is in: what comes now is the disconnect, which may wait forever.
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.seconds)
            except TimeoutError:
                error = RequestTimeout(
                    f"the request body stalled for {self.seconds:g} s "
                    "(WATTBASE_BODY_TIMEOUT_SECONDS)"
                )
                raise BodyRejected(error, {"Connection": "close"}) from None
            more = message["type"] == "http.request" and bool(message.get("more_body"))
            return message

        await self.app(scope, timed_receive, send)
