"""Signed opaque tokens: apollo access tokens and paging cursors (HMAC-SHA256).

A token is ``base64url(json payload) "." base64url(mac)``, where the MAC covers a purpose
label and the payload, so a cursor can never pass as an access token or the reverse. The
signing key lives in the store, made on first use, so every process on one store agrees.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import weakref
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from wattbase.errors import ExpiredToken, InvalidScope, Unauthorized
from wattbase.model.tenancy import Caller, Scope
from wattbase.storage.base import Store

SIGNING_SECRET = "token_signing_key"
ACCESS = "access"
_keys: weakref.WeakKeyDictionary[Any, bytes] = weakref.WeakKeyDictionary()


def signing_key(store: Store) -> bytes:
    """The store's signing key; made (once, by whichever process comes first) on first use."""
    cached = _keys.get(store)
    if cached is not None:
        return cached
    with store.read() as session:
        key = session.get_secret(SIGNING_SECRET)
    if key is None:
        with store.write() as session:
            key = session.put_secret(SIGNING_SECRET, secrets.token_bytes(32))
    _keys[store] = key
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(store: Store, purpose: str, body: str) -> bytes:
    return hmac.new(signing_key(store), f"{purpose}.{body}".encode(), hashlib.sha256).digest()


def seal(store: Store, purpose: str, payload: dict[str, Any]) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64(_mac(store, purpose, body))}"


def unseal(store: Store, purpose: str, token: str) -> dict[str, Any] | None:
    """The payload of a token this store signed for ``purpose``; None for anything else."""
    body, dot, mac = token.strip().partition(".")
    if not dot or not body:
        return None
    try:
        given = _unb64(mac)
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(given, _mac(store, purpose, body)):
        return None
    try:
        payload = json.loads(_unb64(body))
    except (binascii.Error, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_in: int
    scopes: frozenset[Scope]


def issue_token(
    store: Store, caller: Caller, wanted: frozenset[Scope] | None, ttl: int, now: float
) -> AccessToken:
    """A token for an authenticated key, with at most its scopes and its collections."""
    scopes = caller.scopes if wanted is None else wanted
    missing = scopes - caller.scopes
    if missing:
        names = " ".join(sorted(missing))
        raise InvalidScope(f"the key does not hold the scope {names}", param="scope")
    payload = {
        "k": str(caller.key.uuid),
        "d": caller.domain.name,
        "s": sorted(scopes),
        "c": None if caller.collections is None else sorted(caller.collections),
        "e": int(now) + ttl,
    }
    return AccessToken(seal(store, ACCESS, payload), ttl, frozenset(scopes))


def caller_from_token(store: Store, token: str, now: float) -> Caller:
    """Who a bearer token speaks for; 401 when it is forged, expired or its key revoked.

    The key is looked up on every request, so revoking it ends its tokens at once.
    """
    payload = unseal(store, ACCESS, token)
    if payload is None:
        raise Unauthorized("invalid access token")
    try:
        uuid, domain, expiry = UUID(payload["k"]), str(payload["d"]), int(payload["e"])
        scopes = frozenset(Scope(s) for s in payload["s"])
        limited = payload["c"]
        collections = None if limited is None else frozenset(str(c) for c in limited)
    except (KeyError, TypeError, ValueError):
        raise Unauthorized("invalid access token") from None
    if now >= expiry:
        raise ExpiredToken("the access token has expired")
    with store.read() as session:
        key = session.get_key(uuid)
        tenant = session.get_domain(domain)
    if key is None or tenant is None or key.domain != domain or key.revoked is not None:
        raise Unauthorized("invalid access token")
    if key.collections is not None:
        collections = key.collections if collections is None else collections & key.collections
    return Caller(domain=tenant, key=key, scopes=scopes & key.scopes, collections=collections)
