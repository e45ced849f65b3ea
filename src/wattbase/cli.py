"""The ``wattbase`` command: a thin shell over the core. Errors print one line and exit 1."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from wattbase.config import Settings, settings_table
from wattbase.core import access, backups, compaction
from wattbase.errors import StoreUnavailable, WattbaseError
from wattbase.storage import open_store


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    from wattbase.api import create_app
    from wattbase.api.factory import DEMO_ENV
    from wattbase.api.logs import configure
    from wattbase.api.protocol import protocol_for

    configure(settings.log_level)
    common: dict[str, Any] = {
        "host": args.host or settings.host,
        "port": args.port if args.port is not None else settings.port,
        "log_level": settings.log_level,
        "access_log": False,
        "timeout_keep_alive": settings.keep_alive_seconds,
        # None: uvicorn's loggers propagate to the JSON handler instead of their own.
        "log_config": None,
    }
    if args.workers == 1:
        uvicorn.run(create_app(settings, demo=args.demo), http=protocol_for(settings), **common)
        return
    if not settings.database_url:
        raise ValueError(
            "--workers above 1 needs PostgreSQL (WATTBASE_DATABASE_URL): "
            "the embedded store belongs to one process"
        )
    # Each worker builds its own app from the environment (see api/factory.py).
    os.environ[DEMO_ENV] = "1" if args.demo else ""
    uvicorn.run(
        "wattbase.api.factory:app_from_env",
        factory=True,
        workers=args.workers,
        # By name: each worker imports it and reads the limits from its environment.
        http="wattbase.api.protocol:EnvHttpTools",
        **common,
    )


def _domain_create(args: argparse.Namespace, settings: Settings) -> None:
    store = open_store(settings)
    try:
        domain = access.create_domain(store, args.name, args.timezone)
    finally:
        store.close()
    print(f"created domain {domain.name} ({domain.timezone})", file=sys.stderr)


def _domain_set_rate(args: argparse.Namespace, settings: Settings) -> None:
    if not args.default and (args.per_second is None or args.burst is None):
        raise ValueError("give --per-second and --burst, or --default")
    per_second, burst = (None, None) if args.default else (args.per_second, args.burst)
    store = open_store(settings)
    try:
        domain = access.set_rate(store, args.name, per_second, burst)
    finally:
        store.close()
    if domain.rate_per_second is None:
        rate = f"the default ({settings.rate_per_second}/s, burst {settings.rate_burst})"
    else:
        rate = f"{domain.rate_per_second}/s, burst {domain.rate_burst}"
    print(f"domain {domain.name}: each key may make {rate}", file=sys.stderr)


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


def _settings(args: argparse.Namespace, settings: Settings) -> None:
    print(settings_table(), end="")


def _backup_via_server(target: Path, url: str, settings: Settings) -> None:
    """Ask the running server for a snapshot in its backup folder, then move it to ``target``."""
    if settings.admin_domain is None or settings.admin_secret is None:
        raise ValueError(
            "the store is in use by a running server: set WATTBASE_ADMIN_DOMAIN and "
            "WATTBASE_ADMIN_SECRET (an admin key of that domain) to back up through it"
        )
    backups.check_target(target)
    try:
        reply = httpx.post(
            f"{url.rstrip('/')}/admin/backup",
            auth=(settings.admin_domain, settings.admin_secret.get_secret_value()),
            timeout=None,
        )
    except httpx.HTTPError as exc:
        raise ValueError(f"cannot reach the server at {url}: {exc}") from None
    if reply.status_code != 201:
        raise ValueError(f"the server refused the backup ({reply.status_code}): {reply.text}")
    made = reply.json()
    if target.exists():
        target.rmdir()  # empty, checked above
    shutil.move(made["path"], target)
    points = made["tables"].get("points", 0)
    print(f"backed up {points} points through {url} in {made['seconds']} s", file=sys.stderr)
    print(target)


def _backup(args: argparse.Namespace, settings: Settings) -> None:
    target = Path(args.path).absolute()
    if not settings.database_url and not settings.embedded_path.exists():
        raise ValueError(f"there is no embedded store in {settings.data_dir}")
    try:
        store = open_store(settings)
    except StoreUnavailable:
        if settings.database_url:
            raise
        url = args.url or f"http://{settings.host}:{settings.port}"
        _backup_via_server(target, url, settings)
        return
    try:
        snapshot = backups.backup(store, target)
    finally:
        store.close()
    print(f"backed up {snapshot.points} points in {snapshot.seconds} s", file=sys.stderr)
    print(target)


def _restore(args: argparse.Namespace, settings: Settings) -> None:
    snapshot = backups.restore(Path(args.path), settings)
    print(
        f"restored {snapshot.points} points and {len(snapshot.blobs)} dataset contents "
        f"into {snapshot.path} in {snapshot.seconds} s",
        file=sys.stderr,
    )


def _compact(args: argparse.Namespace, settings: Settings) -> None:
    done = compaction.compact(settings)
    print(
        f"compacted {done.points} points: {done.bytes_before / 2**20:.1f} MiB -> "
        f"{done.bytes_after / 2**20:.1f} MiB in {done.seconds} s",
        file=sys.stderr,
    )


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
    set_rate = domain.add_parser(
        "set-rate", help="the requests per second and burst each key of the domain may make"
    )
    set_rate.add_argument("name")
    set_rate.add_argument("--per-second", type=float, help="tokens a key's bucket gains a second")
    set_rate.add_argument("--burst", type=int, help="the most requests a key may make at once")
    set_rate.add_argument(
        "--default", action="store_true", help="use WATTBASE_RATE_PER_SECOND/_BURST again"
    )
    set_rate.set_defaults(run=_domain_set_rate)

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
    commands.add_parser("settings", help="print every setting as a Markdown table").set_defaults(
        run=_settings
    )

    backup = commands.add_parser(
        "backup",
        help="write a consistent snapshot of the embedded store into a new or empty folder",
        description="Works on a stopped data folder, or through the running server that "
        "holds it (POST /admin/backup with WATTBASE_ADMIN_DOMAIN and WATTBASE_ADMIN_SECRET; "
        "the server writes into WATTBASE_BACKUP_DIR and the snapshot is moved to PATH). "
        "PostgreSQL: use pg_dump.",
    )
    backup.add_argument("path", help="the snapshot's folder (new or empty)")
    backup.add_argument(
        "--url", help="the running server (default http://WATTBASE_HOST:WATTBASE_PORT)"
    )
    backup.set_defaults(run=_backup)
    restore = commands.add_parser(
        "restore",
        help="rebuild WATTBASE_DATA_DIR (new or empty) from a snapshot; the server is stopped",
    )
    restore.add_argument("path", help="a folder written by 'wattbase backup'")
    restore.set_defaults(run=_restore)
    commands.add_parser(
        "compact",
        help="rebuild the embedded store's file without the space of overwritten and deleted "
        "points; the server is stopped",
    ).set_defaults(run=_compact)
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
