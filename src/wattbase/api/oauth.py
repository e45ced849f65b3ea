"""``POST /oauth/token``: OAuth 2 client credentials, answering bearer tokens for apollo."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from wattbase.api.deps import SettingsDep, StoreDep, admit, admitted
from wattbase.api.openapi import errors
from wattbase.core.access import authenticate
from wattbase.core.tokens import caller_from_token, issue_token
from wattbase.errors import InvalidRequest, InvalidScope, Unauthorized
from wattbase.model.tenancy import Caller, Scope

router = APIRouter(tags=["oauth"], responses=errors("oauth", 400, 401, 408, 413, 429, 431))
BEARER_CHALLENGE = 'Bearer realm="wattbase"'


class UnsupportedGrant(InvalidRequest):
    type = "unsupported_grant_type"


def get_clock(request: Request) -> Callable[[], float]:
    """Seconds since 1970; tests replace ``app.state.clock`` to move time."""
    clock: Callable[[], float] = request.app.state.clock
    return clock


Clock = Annotated[Callable[[], float], Depends(get_clock)]


def _client(request: Request, form: dict[str, str]) -> tuple[str, str]:
    """Client id and secret, from the form or (RFC 6749 2.3.1) from HTTP Basic."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            sep = ""
        if sep:
            return user, password
    client_id, secret = form.get("client_id"), form.get("client_secret")
    if not client_id or not secret:
        raise Unauthorized("send client_id and client_secret")
    return client_id, secret


def _scopes(text: str | None) -> frozenset[Scope] | None:
    if text is None or not text.strip():
        return None
    try:
        return frozenset(Scope(s) for s in text.split())
    except ValueError:
        raise InvalidScope(f"unknown scope in '{text}'", param="scope") from None


@router.post(
    "/oauth/token",
    operation_id="oauth_token",
    summary="Get a bearer token (OAuth 2 client credentials)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "client_id": {"type": "string", "description": "The domain."},
                            "client_secret": {"type": "string", "description": "A key secret."},
                            "scope": {"type": "string", "description": "Space-separated."},
                        },
                    }
                }
            },
        }
    },
)
async def post_token(
    request: Request, store: StoreDep, settings: SettingsDep, clock: Clock
) -> JSONResponse:
    """``client_id`` is the domain and ``client_secret`` a key's secret. The token carries at
    most the key's scopes (narrowed by ``scope``) and collections, and expires after
    ``WATTBASE_TOKEN_TTL_SECONDS``; revoking the key ends it at once."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    grant = form.get("grant_type")
    if grant != "client_credentials":
        raise UnsupportedGrant(f"grant_type must be client_credentials, not {grant!r}")
    client_id, secret = _client(request, form)
    wanted = _scopes(form.get("scope"))

    def issue() -> dict[str, object]:
        caller = admitted(request, lambda: authenticate(store, client_id, secret))
        token = issue_token(store, caller, wanted, settings.token_ttl_seconds, clock())
        return {
            "access_token": token.token,
            "token_type": "Bearer",
            "expires_in": token.expires_in,
            "scope": " ".join(sorted(token.scopes)),
        }

    answer = await run_in_threadpool(issue)
    return JSONResponse(answer, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


async def bearer_caller(request: Request, store: StoreDep, clock: Clock) -> Caller:
    """``Authorization: Bearer <token from POST /oauth/token>``."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send 'Authorization: Bearer <token>'", challenge=BEARER_CHALLENGE)
    try:
        return await admit(request, store, lambda: caller_from_token(store, token.strip(), clock()))
    except Unauthorized as exc:
        challenge = f'{BEARER_CHALLENGE}, error="invalid_token"'
        raise Unauthorized(exc.message, challenge=challenge) from None


BearerCaller = Annotated[Caller, Depends(bearer_caller)]
