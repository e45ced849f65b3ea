"""Who may do what: keys, secrets, scopes and collections."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID, uuid4

from wattbase.core.clock import zone
from wattbase.errors import Forbidden, InvalidRequest, NotFound, Unauthorized
from wattbase.model.tenancy import DOMAIN_NAME, ApiKey, Caller, Domain, Scope
from wattbase.model.things import Thing
from wattbase.storage.base import Store

READ = frozenset({Scope.READ})
WRITE = frozenset({Scope.WRITE})
ADMIN = frozenset({Scope.ADMIN})


def hash_secret(secret: str) -> bytes:
    # Secrets are 256-bit random strings (or the demo's), so a fast hash is enough:
    # there is no dictionary to run through, and lookups stay cheap at thousands of req/s.
    return hashlib.sha256(secret.encode()).digest()


def new_secret() -> str:
    return "wb_" + secrets.token_urlsafe(32)


def authenticate(store: Store, domain: str, secret: str) -> Caller:
    """The caller a secret proves, for ``domain``; 401 for anything else, saying no more."""
    wanted = hash_secret(secret)
    with store.read() as session:
        found = session.find_key(wanted)
        tenant = session.get_domain(domain) if found else None
    if found is None or tenant is None:
        raise Unauthorized("invalid credentials")
    key, stored = found
    if not hmac.compare_digest(stored, wanted) or key.domain != domain or key.revoked:
        raise Unauthorized("invalid credentials")
    return Caller(domain=tenant, key=key, scopes=key.scopes, collections=key.collections)


def require(caller: Caller, any_of: Iterable[Scope]) -> None:
    """403 unless the caller holds at least one of the scopes."""
    needed = frozenset(any_of)
    if not needed & caller.scopes:
        names = " or ".join(sorted(needed))
        raise Forbidden(f"this key lacks the {names} scope", param="scope")


def visible(caller: Caller, thing: Thing) -> bool:
    return thing.domain == caller.domain.name and caller.sees_collection(thing.collection)


def check_domain_name(name: str) -> None:
    if not DOMAIN_NAME.fullmatch(name):
        raise InvalidRequest(
            "a domain name is 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit",
            param="name",
        )


def create_domain(store: Store, name: str, timezone: str = "UTC") -> Domain:
    check_domain_name(name)
    zone(timezone)
    domain = Domain(name=name, timezone=timezone)
    with store.write() as session:
        if session.get_domain(name) is not None:
            raise InvalidRequest(f"domain '{name}' exists already", param="name")
        session.put_domain(domain)
    return domain


def set_rate(store: Store, name: str, per_second: float | None, burst: int | None) -> Domain:
    """Give a domain its own request rate per key; None for both returns it to the default."""
    if (per_second is None) != (burst is None):
        raise InvalidRequest("give both the rate per second and the burst, or neither")
    if per_second is not None and not per_second > 0:
        raise InvalidRequest("the rate per second must be above 0", param="per_second")
    if burst is not None and burst < 1:
        raise InvalidRequest("the burst must be at least 1", param="burst")
    with store.write() as session:
        domain = session.get_domain(name)
        if domain is None:
            raise NotFound(f"no domain '{name}'", param="domain")
        domain = replace(domain, rate_per_second=per_second, rate_burst=burst)
        session.put_domain(domain)
    return domain


def parse_scopes(text: str) -> frozenset[Scope]:
    try:
        return frozenset(Scope(s.strip()) for s in text.split(",") if s.strip())
    except ValueError as exc:
        known = ", ".join(s.value for s in Scope)
        raise InvalidRequest(f"unknown scope in '{text}'; known: {known}", param="scopes") from exc


def create_key(
    store: Store,
    domain: str,
    scopes: frozenset[Scope],
    *,
    name: str = "",
    collections: frozenset[str] | None = None,
    secret: str | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its secret; the secret is not kept and cannot be shown again."""
    if not scopes:
        raise InvalidRequest("a key needs at least one scope", param="scopes")
    secret = secret or new_secret()
    key = ApiKey(
        uuid=uuid4(),
        domain=domain,
        name=name,
        scopes=scopes,
        collections=collections,
        created=datetime.now(UTC),
    )
    with store.write() as session:
        if session.get_domain(domain) is None:
            raise NotFound(f"no domain '{domain}'", param="domain")
        if session.find_key(hash_secret(secret)) is not None:
            raise InvalidRequest("that secret is in use already", param="secret")
        session.put_key(key, hash_secret(secret))
    return key, secret


def revoke_key(store: Store, domain: str, uuid: UUID) -> None:
    with store.write() as session:
        if not session.revoke_key(domain, uuid, datetime.now(UTC)):
            raise NotFound(f"no active key {uuid} in domain '{domain}'", param="uuid")
