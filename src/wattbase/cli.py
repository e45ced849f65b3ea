"""The ``wattbase`` command: a thin shell over the core. Errors print one line and exit 1."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from wattbase.config import Settings
from wattbase.core import access
from wattbase.errors import WattbaseError
from wattbase.storage import open_store


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    from wattbase.api import create_app
    from wattbase.api.factory import DEMO_ENV
    from wattbase.api.logs import configure

    configure(settings.log_level)
    common: dict[str, Any] = {
        "host": args.host or settings.host,
        "port": args.port if args.port is not None else settings.port,
        "log_level": settings.log_level,
        "access_log": False,
        # None: uvicorn's loggers propagate to the JSON handler instead of their own.
        "log_config": None,
    }
    if args.workers == 1:
        uvicorn.run(create_app(settings, demo=args.demo), **common)
        return
    if not settings.database_url:
        raise ValueError(
            "--workers above 1 needs PostgreSQL (WATTBASE_DATABASE_URL): "
            "the embedded store belongs to one process"
        )
    # Each worker builds its own app from the environment (see api/factory.py).
    os.environ[DEMO_ENV] = "1" if args.demo else ""
    uvicorn.run("wattbase.api.factory:app_from_env", factory=True, workers=args.workers, **common)


def _domain_create(args: argparse.Namespace, settings: Settings) -> None:
    store = open_store(settings)
    try:
        domain = access.create_domain(store, args.name, args.timezone)
    finally:
        store.close()
    print(f"created domain {domain.name} ({domain.timezone})", file=sys.stderr)


def _key_create(args: argparse.Namespace, settings: Settings) -> None:
    collections = (
        frozenset(c.strip() for c in args.collections.split(",") if c.strip())
        if args.collections
        else None
    )
    store = open_store(settings)
    try:
        key, secret = access.create_key(
            store,
            args.domain,
            access.parse_scopes(args.scopes),
            name=args.name,
            collections=collections,
        )
    finally:
        store.close()
    print(f"created key {key.uuid} in {key.domain}; the secret is shown once", file=sys.stderr)
    print(secret)


def _key_revoke(args: argparse.Namespace, settings: Settings) -> None:
    store = open_store(settings)
    try:
        access.revoke_key(store, args.domain, UUID(args.uuid))
    finally:
        store.close()
    print(f"revoked key {args.uuid}", file=sys.stderr)


def _key_list(args: argparse.Namespace, settings: Settings) -> None:
    store = open_store(settings)
    try:
        with store.read() as session:
            keys = session.list_keys(args.domain)
    finally:
        store.close()
    for key in keys:
        state = "revoked" if key.revoked else "active"
        scopes = ",".join(sorted(key.scopes))
        print(f"{key.uuid}\t{state}\t{scopes}\t{key.name}")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="wattbase",
        description="Energy time-series server. Settings come from WATTBASE_* variables "
        "(WATTBASE_DATA_DIR, WATTBASE_DATABASE_URL, WATTBASE_PORT, ...).",
    )
    commands = top.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", help="listen address (WATTBASE_HOST)")
    serve.add_argument("--port", type=int, help="listen port (WATTBASE_PORT)")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="create the demo domain with the published secret 'demo-secret' (never in production)",
    )
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="server processes; above 1 needs PostgreSQL (WATTBASE_DATABASE_URL)",
    )
    serve.set_defaults(run=_serve)

    domain = commands.add_parser("domain", help="manage domains").add_subparsers(
        dest="action", required=True
    )
    create = domain.add_parser("create", help="create a domain")
    create.add_argument("name")
    create.add_argument("--timezone", default="UTC", help="IANA zone for naive times and buckets")
    create.set_defaults(run=_domain_create)

    key = commands.add_parser("key", help="manage API keys").add_subparsers(
        dest="action", required=True
    )
    make = key.add_parser("create", help="create a key; prints its secret alone on stdout")
    make.add_argument("--domain", required=True)
    make.add_argument(
        "--scopes",
        default="read,write",
        help="comma-separated: read,write,admin,apollo_read,apollo_write",
    )
    make.add_argument("--name", default="")
    make.add_argument("--collections", help="comma-separated collections; default: all")
    make.set_defaults(run=_key_create)
    revoke = key.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("--domain", required=True)
    revoke.add_argument("uuid")
    revoke.set_defaults(run=_key_revoke)
    listing = key.add_parser("list", help="list a domain's keys (never their secrets)")
    listing.add_argument("--domain", required=True)
    listing.set_defaults(run=_key_list)
    return top


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        args.run(args, Settings())
    except WattbaseError as exc:
        print(f"wattbase: {exc.message}", file=sys.stderr)
        sys.exit(1)
    except ValueError as exc:
        print(f"wattbase: {exc}", file=sys.stderr)
        sys.exit(1)
