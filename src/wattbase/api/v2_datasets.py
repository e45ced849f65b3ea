"""EnergyView API v2 datasets: ``/api/v2/datasets`` and ``/api/v2/things/{uuid}/datasets``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from wattbase.api.dataset_uploads import Upload, read_upload
from wattbase.api.deps import SettingsDep, StoreDep, V2Caller
from wattbase.api.openapi import COMMON, MAX_OFFSET, errors
from wattbase.core import datasets as core
from wattbase.core.access import WRITE, require
from wattbase.errors import InvalidRequest
from wattbase.model.datasets import Dataset, DatasetFilter, Format
from wattbase.storage.blobs import chunks

router = APIRouter(prefix="/api/v2", tags=["v2 datasets"], responses=errors("v2", *COMMON))

CONTENT_TYPES = {
    Format.CSV: "text/csv",
    Format.JSON: "application/json",
    Format.XML: "application/xml",
    Format.YAML: "application/yaml",
    Format.TOML: "application/toml",
    Format.INI: "text/plain",
    Format.MISC: "application/octet-stream",
}

_FIELDS_DOC = {
    "name": {"type": "string", "minLength": 1},
    "format": {"type": "string", "enum": [f.value for f in Format]},
    "thing_uuid": {"type": "string", "format": "uuid", "nullable": True},
    "tags": {"type": "array", "items": {"type": "string"}},
    "checksum": {
        "type": "string",
        "description": "SHA-256 hex of the content; when sent it must match (400).",
    },
}
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        **_FIELDS_DOC,
                        "content": {"type": "string", "format": "byte", "description": "base64"},
                    },
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        **_FIELDS_DOC,
                        "tags": {"type": "string", "description": "Comma-separated."},
                        "file": {"type": "string", "format": "binary"},
                    },
                }
            },
        }
    }
}


class DatasetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    uuid: UUID
    name: str
    format: Format
    size: int = Field(description="Bytes of content.")
    checksum: str = Field(description="SHA-256 of the content, hex.")
    thing_uuid: UUID | None
    created: datetime
    created_by: UUID | None
    updated: datetime
    updated_by: UUID | None
    tags: list[str]


def _out(dataset: Dataset) -> DatasetOut:
    return DatasetOut.model_validate(dataset, from_attributes=True)


def _tags(text: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in (text or "").split(",") if t.strip())


def _create(store: Any, caller: Any, upload: Upload) -> Dataset:
    fields = upload.fields
    if "name" not in fields and upload.filename:
        fields = {**fields, "name": upload.filename}
    for name in ("name", "format"):
        if name not in fields:
            raise InvalidRequest(f"a dataset needs a {name}", param=name)
    if upload.spool is None:
        raise InvalidRequest("a dataset needs content", param="content")
    draft = core.DatasetDraft(
        name=fields["name"],
        format=fields["format"],
        thing_uuid=fields.get("thing_uuid"),
        tags=tuple(fields.get("tags", ())),
    )
    return core.create_dataset(store, caller, draft, upload.spool, upload.checksum)


@router.post(
    "/datasets",
    operation_id="v2_create_dataset",
    summary="Store a dataset",
    status_code=201,
    openapi_extra=UPLOAD_BODY,
)
async def create_dataset(
    request: Request, caller: V2Caller, store: StoreDep, settings: SettingsDep
) -> DatasetOut:
    """Store a document: JSON with base64 ``content``, or multipart with a file part.

    The content must parse as its ``format``; the server computes ``size`` and
    ``checksum``. Over ``max_dataset_bytes``: 413. Nothing is stored on any error.
    """
    require(caller, WRITE)
    upload = await read_upload(request, store, settings.max_dataset_bytes)
    try:
        return _out(await run_in_threadpool(_create, store, caller, upload))
    finally:
        upload.discard()


@router.get("/datasets", operation_id="v2_list_datasets", summary="List datasets")
def list_datasets(
    caller: V2Caller,
    store: StoreDep,
    tags: Annotated[str | None, Query(description="Comma-separated; all must match.")] = None,
    thing_uuid: UUID | None = None,
    format: Format | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[DatasetOut]:
    """Datasets this key may see, oldest first."""
    where = DatasetFilter(
        tags=_tags(tags), thing_uuid=thing_uuid, format=format, limit=limit, offset=offset
    )
    return [_out(d) for d in core.list_datasets(store, caller, where)]


@router.get(
    "/things/{uuid}/datasets",
    operation_id="v2_list_thing_datasets",
    summary="List a thing's datasets",
)
def list_thing_datasets(
    caller: V2Caller,
    store: StoreDep,
    uuid: UUID,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[DatasetOut]:
    """The datasets attached to one thing, oldest first."""
    where = DatasetFilter(thing_uuid=uuid, limit=limit, offset=offset)
    return [_out(d) for d in core.list_datasets(store, caller, where)]


@router.get("/datasets/{uuid}", operation_id="v2_get_dataset", summary="Get a dataset")
def get_dataset(caller: V2Caller, store: StoreDep, uuid: UUID) -> DatasetOut:
    """One dataset's metadata; the bytes are at ``/raw``."""
    return _out(core.read_dataset(store, caller, uuid))


def _matches(header: str | None, etag: str) -> bool:
    if header is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


@router.get(
    "/datasets/{uuid}/raw",
    operation_id="v2_get_dataset_raw",
    summary="Download a dataset's content",
    response_class=StreamingResponse,
    responses={200: {"description": "The bytes as stored"}, 304: {"description": "Unchanged"}},
)
def get_dataset_raw(request: Request, caller: V2Caller, store: StoreDep, uuid: UUID) -> Response:
    """The exact bytes, streamed, with the format's content type and ``ETag`` of the checksum.

    A request whose ``If-None-Match`` names that ETag gets 304 and no body.
    """
    dataset = core.read_dataset(store, caller, uuid)
    etag = f'"{dataset.checksum}"'
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag})
    return StreamingResponse(
        chunks(core.open_content(store, dataset)),
        media_type=CONTENT_TYPES[dataset.format],
        headers={"ETag": etag, "Content-Length": str(dataset.size)},
    )


def _update(store: Any, caller: Any, uuid: UUID, upload: Upload) -> Dataset:
    return core.update_dataset(store, caller, uuid, upload.fields, upload.spool, upload.checksum)


@router.put(
    "/datasets/{uuid}",
    operation_id="v2_update_dataset",
    summary="Change a dataset",
    openapi_extra=UPLOAD_BODY,
)
async def update_dataset(
    request: Request, caller: V2Caller, store: StoreDep, settings: SettingsDep, uuid: UUID
) -> DatasetOut:
    """Change the fields sent, the content too when sent (same two forms as POST)."""
    require(caller, WRITE)
    upload = await read_upload(request, store, settings.max_dataset_bytes)
    try:
        return _out(await run_in_threadpool(_update, store, caller, uuid, upload))
    finally:
        upload.discard()


@router.delete(
    "/datasets/{uuid}",
    operation_id="v2_delete_dataset",
    summary="Delete a dataset",
    status_code=204,
)
def delete_dataset(caller: V2Caller, store: StoreDep, uuid: UUID) -> Response:
    """Delete a dataset; its bytes go when no other dataset holds the same content."""
    core.delete_dataset(store, caller, uuid)
    return Response(status_code=204)
