"""The error bodies of the apollo face and of the OAuth token endpoint.

Apollo wraps everything in ``{"status": {"message", "code"}, "data"}``; the token endpoint
answers errors as RFC 6749 section 5.2 says: ``{"error", "error_description"}``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

APOLLO_PREFIX = "/apollo"
OAUTH_PREFIX = "/oauth"
OAUTH_ERRORS = {"invalid_scope", "invalid_client", "invalid_grant", "unsupported_grant_type"}


def apollo(
    data: Any, status: int = 200, *, post: bool = False, extra: dict[str, Any] | None = None
) -> Response:
    """An apollo answer. POST answers spell ``Message``/``Code`` as apollo's docs print."""
    message, code = ("Message", "Code") if post else ("message", "code")
    body = {"status": {message: "", code: str(status)}, "data": data, **(extra or {})}
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json")


def apollo_error(
    status: int, type_: str, message: str, param: str | None, headers: dict[str, str] | None
) -> Response:
    # The envelope has no field for the place, so the message names it.
    if param and param not in message and not param[0].isalpha():
        message = f"{param}: {message}"
    body = {"status": {"message": message, "code": str(status)}, "data": None}
    return Response(
        msgspec.json.encode(body),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def oauth_error(
    status: int, type_: str, message: str, param: str | None, headers: dict[str, str] | None
) -> Response:
    if type_ in OAUTH_ERRORS:
        error = type_
    elif status == 401:
        error = "invalid_client"
    elif status >= 500:
        error = "server_error"
    else:
        error = "invalid_request"
    headers = {**(headers or {}), "Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="wattbase"'
    body = {"error": error, "error_description": message}
    return Response(
        msgspec.json.encode(body),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )
