"""Typed dependencies: the store, the settings and the caller of each face."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from wattbase.config import Settings
from wattbase.core.access import authenticate
from wattbase.core.ratelimit import RateControl
from wattbase.errors import ExpiredToken, Unauthorized
from wattbase.model.tenancy import Caller
from wattbase.storage.base import Store

KEY_CHALLENGE = 'Key realm="wattbase"'
BASIC_CHALLENGE = 'Basic realm="wattbase"'


# Async, though they never wait: FastAPI runs a plain ``def`` dependency in its thread
# pool, and a round trip there costs more than the whole lookup (about 0.1 ms a request).
async def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def client_address(request: Request) -> str:
    # The peer's address: behind a proxy every client shares the proxy's (see README).
    return request.client.host if request.client else "unknown"


def admitted(request: Request, check: Callable[[], Caller]) -> Caller:
    """The caller ``check`` proves, under both rate limits: failed authentications per
    client address (counted, and refused while the address has none left) and requests
    per key. Answers that pass carry the key's ``X-RateLimit-*`` figures."""
    rates: RateControl = request.app.state.rates
    address = client_address(request)
    rates.check_address(address)
    try:
        caller = check()
    except ExpiredToken:
        raise
    except Unauthorized:
        rates.failed(address)
        raise
    request.state.rate = rates.admit(caller)
    return caller


async def admit(request: Request, store: Store, check: Callable[[], Caller]) -> Caller:
    """``admitted``, on the event loop when the store answers lookups from memory, else in
    the thread pool (a database round trip must not hold up every other request)."""
    if store.memory_lookups:
        return admitted(request, check)
    return await run_in_threadpool(admitted, request, check)


def _credentials(request: Request, scheme: str, challenge: str) -> str:
    header = request.headers.get("authorization", "")
    given, _, value = header.partition(" ")
    if given.lower() != scheme.lower() or not value.strip():
        raise Unauthorized(f"send 'Authorization: {scheme} ...'", challenge=challenge)
    return value.strip()


async def v1_caller(request: Request, domain: str, store: StoreDep) -> Caller:
    """``Authorization: Key <secret>``, for a key of the domain in the path."""
    secret = _credentials(request, "Key", KEY_CHALLENGE)
    try:
        return await admit(request, store, lambda: authenticate(store, domain, secret))
    except Unauthorized as exc:
        raise Unauthorized(exc.message, challenge=KEY_CHALLENGE) from None


async def v2_caller(request: Request, store: StoreDep) -> Caller:
    """``Authorization: Basic base64(domain:secret)``."""
    value = _credentials(request, "Basic", BASIC_CHALLENGE)
    try:
        domain, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        sep = ""
    if not sep:
        raise Unauthorized(
            "Basic credentials must be base64 of domain:secret", challenge=BASIC_CHALLENGE
        )
    try:
        return await admit(request, store, lambda: authenticate(store, domain, secret))
    except Unauthorized as exc:
        raise Unauthorized(exc.message, challenge=BASIC_CHALLENGE) from None


V1Caller = Annotated[Caller, Depends(v1_caller)]
V2Caller = Annotated[Caller, Depends(v2_caller)]
