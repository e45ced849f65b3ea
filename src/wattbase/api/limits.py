"""Request body limits, enforced while the body streams in (413 before it is all read)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wattbase.api.errors import error_response
from wattbase.errors import PayloadTooLarge


class BodyLimit:
    """Refuse bodies over ``limit`` bytes: by Content-Length up front, else while reading.

    A body that outgrows the limit mid-stream raises ``PayloadTooLarge`` inside the app,
    whose error handlers answer 413 in the usual shape. ``paths`` gives other limits to
    path prefixes (the longest matching prefix wins), e.g. larger ones for dataset uploads.
    """

    def __init__(self, app: ASGIApp, limit: int, paths: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.paths = sorted((paths or {}).items(), key=lambda item: -len(item[0]))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = next((n for prefix, n in self.paths if path.startswith(prefix)), self.limit)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            response = error_response(413, "payload_too_large", self._message(limit))
            await response(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise PayloadTooLarge(self._message(limit))
            return message

        await self.app(scope, counting_receive, send)

    def _message(self, limit: int) -> str:
        return f"the request body is over the limit of {limit} bytes"
