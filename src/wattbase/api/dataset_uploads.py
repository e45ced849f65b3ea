"""Reading a dataset upload (JSON with base64 content, or multipart) into a ``Spool``.

JSON bodies stream into an anonymous temporary file first and are decoded from a memory
map of it: msgspec turns the base64 ``content`` straight into bytes, so a request holds
the document's bytes once, not the body as well. Multipart files are spooled to disk by
Starlette and copied into the spool in chunks.
"""

from __future__ import annotations

import mmap
import tempfile
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import msgspec
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from wattbase.api.errors import msgspec_place
from wattbase.config import MiB, Settings
from wattbase.errors import InvalidRequest
from wattbase.model.datasets import Format
from wattbase.storage.base import Store
from wattbase.storage.blobs import Spool

FIELDS = ("name", "format", "thing_uuid", "tags", "checksum")


class DatasetJson(msgspec.Struct, forbid_unknown_fields=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    format: Format | msgspec.UnsetType = msgspec.UNSET
    content: bytes | msgspec.UnsetType = msgspec.UNSET
    thing_uuid: UUID | None | msgspec.UnsetType = msgspec.UNSET
    tags: list[str] | msgspec.UnsetType = msgspec.UNSET
    checksum: str | None | msgspec.UnsetType = msgspec.UNSET


DECODER = msgspec.json.Decoder(DatasetJson)


@dataclass
class Upload:
    """What a request sent: the fields it named, and the content if it had any."""

    fields: dict[str, Any] = field(default_factory=dict)
    spool: Spool | None = None
    checksum: str | None = None
    # The uploaded file's own name, if multipart: a new dataset's name when none is given.
    filename: str | None = None

    def discard(self) -> None:
        if self.spool is not None:
            self.spool.discard()


def body_limit(settings: Settings) -> int:
    """The request body a dataset of the largest size needs: base64 is 4/3, plus the rest."""
    return settings.max_dataset_bytes * 4 // 3 + MiB


def _decode_json(view: bytes | mmap.mmap) -> DatasetJson:
    try:
        return DECODER.decode(view)
    except msgspec.ValidationError as exc:
        place, message = msgspec_place(exc)
        path = None if place is None else place.removeprefix(".")
        where = f" ({path})" if path else ""
        raise InvalidRequest(message + where, param=path) from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"the body is not valid JSON ({exc})") from None


def _from_json(body: Any, store: Store, limit: int) -> Upload:
    body.flush()
    if body.seek(0, 2) == 0:
        raise InvalidRequest("the body is empty; send JSON or a multipart upload")
    with mmap.mmap(body.fileno(), 0, access=mmap.ACCESS_READ) as view:
        sent = _decode_json(view)
    fields = {
        name: getattr(sent, name)
        for name in ("name", "format", "thing_uuid", "tags")
        if getattr(sent, name) is not msgspec.UNSET
    }
    upload = Upload(fields, checksum=sent.checksum or None)
    if sent.content is not msgspec.UNSET:
        upload.spool = store.blobs.spool(limit)
        try:
            upload.spool.write(sent.content)
        except BaseException:
            upload.discard()
            raise
    return upload


async def _read_json(request: Request, store: Store, limit: int) -> Upload:
    with tempfile.TemporaryFile() as body:
        async for chunk in request.stream():
            body.write(chunk)
        return await run_in_threadpool(_from_json, body, store, limit)


def _form_fields(form: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in ("name", "format", "thing_uuid", "tags"):
        values = [v for v in form.getlist(name) if isinstance(v, str)]
        if not values:
            continue
        if name == "tags":
            fields[name] = [t.strip() for v in values for t in v.split(",") if t.strip()]
        elif name == "thing_uuid":
            try:
                fields[name] = UUID(values[0]) if values[0].strip() else None
            except ValueError:
                raise InvalidRequest("thing_uuid is not a UUID", param="thing_uuid") from None
        elif name == "format":
            try:
                fields[name] = Format(values[0].strip().lower())
            except ValueError:
                known = ", ".join(f.value for f in Format)
                raise InvalidRequest(f"format must be one of {known}", param="format") from None
        else:
            fields[name] = values[0]
    return fields


async def _read_form(request: Request, store: Store, limit: int) -> Upload:
    async with request.form(max_files=1, max_fields=len(FIELDS) * 8) as form:
        upload = Upload(_form_fields(form))
        checksum = form.get("checksum")
        upload.checksum = checksum.strip() or None if isinstance(checksum, str) else None
        files = [v for v in form.values() if isinstance(v, UploadFile)]
        if files:
            file = files[0]
            upload.filename = file.filename
            upload.spool = store.blobs.spool(limit)
            try:
                await run_in_threadpool(upload.spool.copy_from, file.file)
            except BaseException:
                upload.discard()
                raise
    return upload


async def read_upload(request: Request, store: Store, limit: int) -> Upload:
    """The fields and content of a dataset request; 413 when the content is over ``limit``."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        return await _read_form(request, store, limit)
    if kind in ("application/json", ""):
        return await _read_json(request, store, limit)
    raise InvalidRequest(
        f"send application/json or multipart/form-data, not {kind}", param="content-type"
    )
