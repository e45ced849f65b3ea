"""One error body for v1 and v2: ``{"error", "code", "type", "param"}``.

Every failure, from the core, from request validation or from routing, ends up here, so
the shape is pinned in one place (and by ``tests/api/test_error_shape.py``).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from typing import Any

import msgspec
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from wattbase.api.correlation import current_id
from wattbase.api.envelopes import APOLLO_PREFIX, OAUTH_PREFIX, apollo_error, oauth_error
from wattbase.errors import RateLimited, Unauthorized, WattbaseError

log = logging.getLogger("wattbase.api")
HTTP_TYPES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
_MSGSPEC_AT = re.compile(r" - at `\$(?P<path>[^`]*)`")


class BodyRejected(HTTPException):
    """A limit the body broke while it streamed in (size, nesting, a stalled client).

    Raised from ``receive``; an HTTPException because FastAPI passes those through its own
    body parsing, where any other exception becomes a generic 400.
    """

    def __init__(self, error: WattbaseError, headers: dict[str, str] | None = None) -> None:
        super().__init__(error.status, error.message, headers)
        self.error = error


def error_response(
    status: int,
    type_: str,
    message: str,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {"error": message, "code": status, "type": type_, "param": param}
    return Response(
        msgspec.json.encode(body),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


# Faces whose error body is not the v1/v2 one, by path prefix.
FACE_ERRORS = ((APOLLO_PREFIX, apollo_error), (OAUTH_PREFIX, oauth_error))


def face_error(
    request: Request,
    status: int,
    type_: str,
    message: str,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The error in the shape of the face that ``request`` went to."""
    return error_at(request.url.path, status, type_, message, param, headers)


def error_at(
    path: str,
    status: int,
    type_: str,
    message: str,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The error in the shape of the face that serves ``path`` (for code outside routing)."""
    for prefix, render in FACE_ERRORS:
        if path == prefix or path.startswith(prefix + "/"):
            return render(status, type_, message, param, headers)
    return error_response(status, type_, message, param, headers)


def place(loc: Sequence[int | str]) -> str:
    """A location as clients write it: ``[0].data[17].ts``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def msgspec_place(exc: msgspec.ValidationError) -> tuple[str | None, str]:
    """Where msgspec's error points (``[0].data[17].ts``; ``.name`` in an object; empty at
    the top), if it names a place, and its message without the place."""
    text = str(exc)
    match = _MSGSPEC_AT.search(text)
    return (match.group("path") if match else None), _MSGSPEC_AT.sub("", text)


def _headers(exc: WattbaseError) -> dict[str, str]:
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": exc.challenge}
    if isinstance(exc, RateLimited):
        return {
            "Retry-After": str(max(1, math.ceil(exc.retry_after))),
            "X-RateLimit-Limit": str(exc.limit),
            "X-RateLimit-Remaining": "0",
        }
    return {}


async def on_wattbase_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WattbaseError)
    if exc.status >= 500:
        log.error("request failed: %s", exc.message)
    return face_error(request, exc.status, exc.type, exc.message, exc.param, _headers(exc))


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
    loc = [p for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    param = place(loc) or None
    message = first.get("msg", "invalid request")
    return face_error(
        request, 400, "invalid_request", f"{param}: {message}" if param else message, param
    )


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if isinstance(exc, BodyRejected):
        headers = {**_headers(exc.error), **(exc.headers or {})}
        return face_error(
            request, exc.status_code, exc.error.type, exc.error.message, exc.error.param, headers
        )
    type_ = HTTP_TYPES.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    return face_error(request, exc.status_code, type_, str(exc.detail), None, headers)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    # The client gets no trace, no SQL: only that it failed. The log has the rest.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    # This answer is sent from outside every middleware, so it carries the id itself.
    headers = {"x-correlation-id": current_id() or ""}
    return face_error(request, 500, "internal_error", "internal error", None, headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(WattbaseError, on_wattbase_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
