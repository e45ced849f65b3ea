"""Server administration: ``/admin``, Basic ``domain:secret`` of the operator's admin key."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from wattbase.api.deps import SettingsDep, StoreDep, V2Caller
from wattbase.api.openapi import errors
from wattbase.core.backups import backup_into_folder

router = APIRouter(prefix="/admin", tags=["admin"], responses=errors("v2", 400, 401, 403, 429))


class BackupOut(BaseModel):
    path: str = Field(description="The snapshot's folder on the server.")
    created: str = Field(description="When it was taken (RFC 3339, UTC).")
    tables: dict[str, int] = Field(description="Rows per table; `points` counts the points.")
    blobs: int = Field(description="Dataset contents copied.")
    bytes: int = Field(description="Size of the snapshot on disk.")
    seconds: float = Field(description="How long it took; writes waited that long.")


@router.post(
    "/backup",
    operation_id="admin_backup",
    summary="Snapshot the embedded store into WATTBASE_BACKUP_DIR",
    status_code=201,
    openapi_extra={"x-required-scopes": ["admin"]},
)
async def post_backup(caller: V2Caller, store: StoreDep, settings: SettingsDep) -> BackupOut:
    """Needs the `admin` scope on a key of the operator's domain (`WATTBASE_ADMIN_DOMAIN`);
    any other key is 403. Writes a consistent snapshot of every tenant (rows and dataset
    bytes) into a new folder under `WATTBASE_BACKUP_DIR`; reads go on, writes wait for it.
    Restore it with `wattbase restore PATH` into an empty data folder. 400 on PostgreSQL
    (use pg_dump)."""
    snapshot = await run_in_threadpool(backup_into_folder, store, settings, caller)
    return BackupOut(
        path=snapshot.path,
        created=snapshot.created,
        tables=snapshot.tables,
        blobs=len(snapshot.blobs),
        bytes=snapshot.bytes,
        seconds=snapshot.seconds,
    )
