"""Backups of the embedded store: snapshots while it serves, and restores into a new folder.

PostgreSQL is backed up with ``pg_dump`` / ``pg_restore`` (README, "Backups and crash
safety"); asking this module for it is a clear error rather than a partial copy.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from wattbase.config import Settings
from wattbase.core.access import ADMIN, require
from wattbase.errors import Forbidden, InvalidRequest
from wattbase.model.tenancy import Caller
from wattbase.storage.base import Snapshots, Store
from wattbase.storage.embedded_backup import Snapshot, check_target, restore_snapshot

__all__ = ["Snapshot", "backup", "backup_into_folder", "check_target", "restore"]

PG_ROUTE = "the PostgreSQL store is backed up with pg_dump and restored with pg_restore"


def backup(store: Store, target: Path) -> Snapshot:
    """Write a consistent snapshot of ``store`` into the new or empty folder ``target``."""
    if not isinstance(store, Snapshots):
        raise InvalidRequest(PG_ROUTE, param="path")
    return store.snapshot(target)


def require_operator(caller: Caller, settings: Settings) -> None:
    """403 unless the caller is an admin key of the operator's domain: a snapshot holds
    every tenant's data, so no tenant's admin key is enough on its own."""
    if settings.admin_domain is None:
        raise Forbidden(
            "server administration over HTTP is off: the operator sets WATTBASE_ADMIN_DOMAIN",
            param="domain",
        )
    if caller.domain.name != settings.admin_domain:
        raise Forbidden("only the operator's domain may do this", param="domain")
    require(caller, ADMIN)


def backup_into_folder(store: Store, settings: Settings, caller: Caller) -> Snapshot:
    """A snapshot in the configured backup folder, named after the moment it was taken."""
    require_operator(caller, settings)
    folder = settings.backup_folder
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return backup(store, folder / f"wattbase-{stamp}")


def restore(source: Path, settings: Settings) -> Snapshot:
    """Rebuild the settings' (new or empty) data folder from the snapshot in ``source``."""
    if settings.database_url:
        raise InvalidRequest(PG_ROUTE, param="path")
    return restore_snapshot(source, settings.data_dir)
