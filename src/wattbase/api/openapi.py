"""The error answers of each face, declared once for the OpenAPI description.

Routers pass ``errors(face, ...)`` as ``responses=`` so that every status a route can give
is documented in the body shape that face really answers (checked by the schemathesis fuzz
test). ``describe`` drops FastAPI's automatic 422: validation errors are answered 400.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import FastAPI

Face = Literal["v1", "v2", "apollo", "oauth"]
ResponsesDoc = dict[int | str, dict[str, Any]]

ERROR_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["error", "code", "type", "param"],
    "properties": {
        "error": {"type": "string", "description": "What went wrong, for a person."},
        "code": {"type": "integer", "description": "The HTTP status."},
        "type": {"type": "string", "description": "A stable word, e.g. not_found."},
        "param": {
            "type": ["string", "null"],
            "description": "The offending place, e.g. [0].data[17].ts.",
        },
    },
}
APOLLO_ERROR_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["status", "data"],
    "properties": {
        "status": {
            "type": "object",
            "required": ["message", "code"],
            "properties": {"message": {"type": "string"}, "code": {"type": "string"}},
        },
        "data": {"type": "null"},
    },
}
OAUTH_ERROR_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["error", "error_description"],
    "properties": {
        "error": {
            "type": "string",
            "enum": [
                "invalid_request",
                "invalid_client",
                "invalid_grant",
                "invalid_scope",
                "unsupported_grant_type",
                "server_error",
            ],
        },
        "error_description": {"type": "string"},
    },
}
BODIES = {
    "v1": ERROR_BODY,
    "v2": ERROR_BODY,
    "apollo": APOLLO_ERROR_BODY,
    "oauth": OAUTH_ERROR_BODY,
}
MEANINGS = {
    400: "The request is malformed; `param` (or the message) names the place",
    401: "Missing or wrong credentials",
    403: "The credentials lack a scope or collection this needs",
    404: "No such object (or not visible to these credentials)",
    408: "The request body stalled (WATTBASE_BODY_TIMEOUT_SECONDS)",
    409: "Conflicts with what is stored (exists already, a cycle, not empty)",
    413: "The body is over the size limit",
    429: "Too many requests; wait for Retry-After seconds",
    431: "The request line and headers are over WATTBASE_MAX_HEADER_BYTES",
}
# Past this, an offset does not fit the stores' 64-bit integers (and no list is that long).
MAX_OFFSET = 1 << 62
# What every authenticated route of a face can answer, whatever it does.
COMMON = (400, 401, 403, 404, 408, 413, 429, 431)


_INTEGER = {"type": "integer", "minimum": 0}
# The headers a 429 always carries (api/errors.py).
RATE_HEADERS: dict[str, Any] = {
    "Retry-After": {"description": "Seconds to wait.", "required": True, "schema": _INTEGER},
    "X-RateLimit-Limit": {
        "description": "The key's burst (or the failed-login burst).",
        "required": True,
        "schema": _INTEGER,
    },
    "X-RateLimit-Remaining": {
        "description": "Always 0 here.",
        "required": True,
        "schema": _INTEGER,
    },
}


def errors(face: Face, *statuses: int) -> ResponsesDoc:
    """``responses=`` for FastAPI: each status with the face's error body."""
    schema = BODIES[face]
    out: ResponsesDoc = {}
    for status in statuses:
        doc: dict[str, Any] = {
            "description": MEANINGS[status],
            "content": {"application/json": {"schema": schema}},
        }
        if status == 429:
            doc["headers"] = RATE_HEADERS
        out[status] = doc
    return out


def describe(app: FastAPI) -> None:
    """Make ``app.openapi()`` leave out the 422 that FastAPI adds but we never answer."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = build()
            for path in doc.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                doc.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def apollo_answer(
    status: int, description: str, data: dict[str, Any], *, post: bool = False
) -> ResponsesDoc:
    """An apollo success envelope; POST answers spell ``Message``/``Code`` capitalised."""
    message, code = ("Message", "Code") if post else ("message", "code")
    envelope = {
        "type": "object",
        "required": ["status", "data"],
        "properties": {
            "status": {
                "type": "object",
                "required": [message, code],
                "properties": {message: {"type": "string"}, code: {"type": "string"}},
            },
            "data": data,
        },
    }
    return {
        status: {"description": description, "content": {"application/json": {"schema": envelope}}}
    }
