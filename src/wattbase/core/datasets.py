"""Datasets: documents stored beside things, seen through the thing's collection.

A dataset with a thing is visible to a caller who sees that thing; one without a thing is
in the domain's default collection. Content arrives in a ``Spool`` (already hashed and
counted); it is checked against the claimed checksum and its format before the write
transaction, then put in place and recorded in one transaction. Freeing the bytes of a
deleted or replaced document happens in a transaction of its own, when no dataset (of any
domain) refers to that checksum any more.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, BinaryIO
from uuid import UUID, uuid4

from wattbase.core.access import READ, WRITE, require
from wattbase.core.blob_refs import release
from wattbase.core.changes import check_changes
from wattbase.core.formats import check_format
from wattbase.core.things import get_thing
from wattbase.errors import Forbidden, InvalidRequest, NotFound
from wattbase.model.datasets import Dataset, DatasetFilter, Format
from wattbase.model.tenancy import DEFAULT_COLLECTION, Caller
from wattbase.storage.base import Session, Store
from wattbase.storage.blobs import Spool

UPDATABLE = frozenset({"name", "format", "thing_uuid", "tags"})


@dataclass(frozen=True, slots=True)
class DatasetDraft:
    name: str
    format: Format
    thing_uuid: UUID | None = None
    tags: tuple[str, ...] = ()


def _check_name(name: str) -> None:
    if not name.strip():
        raise InvalidRequest("a dataset needs a name", param="name")


def _collection(session: Session, caller: Caller, thing_uuid: UUID | None) -> str:
    if thing_uuid is None:
        return DEFAULT_COLLECTION
    thing = session.get_thing(caller.domain.name, thing_uuid)
    # A thing deleted from under its datasets leaves them in the default collection.
    return DEFAULT_COLLECTION if thing is None else thing.collection


def get_dataset(session: Session, caller: Caller, uuid: UUID) -> Dataset:
    dataset = session.get_dataset(caller.domain.name, uuid)
    if dataset is None or not caller.sees_collection(
        _collection(session, caller, dataset.thing_uuid)
    ):
        raise NotFound(f"no dataset {uuid}", param="uuid")
    return dataset


def _check_owner(session: Session, caller: Caller, thing_uuid: UUID | None) -> None:
    """The thing a dataset is put on must be one the caller sees (404 otherwise)."""
    if thing_uuid is None:
        if not caller.sees_collection(DEFAULT_COLLECTION):
            raise Forbidden(
                f"this key may not use collection '{DEFAULT_COLLECTION}'; give a thing_uuid",
                param="thing_uuid",
            )
        return
    try:
        get_thing(session, caller, thing_uuid)
    except NotFound:
        raise NotFound(f"no thing {thing_uuid}", param="thing_uuid") from None


def _check_content(fmt: Format, spool: Spool, claimed: str | None) -> None:
    if claimed is not None and claimed.strip().lower() != spool.checksum:
        raise InvalidRequest(
            f"the checksum sent does not match the content's sha256 {spool.checksum}",
            param="checksum",
        )
    check_format(fmt, spool.reader())
    spool.seal()


def create_dataset(
    store: Store, caller: Caller, draft: DatasetDraft, spool: Spool, claimed: str | None = None
) -> Dataset:
    """Store a new document; ``claimed`` is the client's checksum, if it sent one."""
    require(caller, WRITE)
    _check_name(draft.name)
    _check_content(draft.format, spool, claimed)
    now = datetime.now(UTC)
    dataset = Dataset(
        uuid=uuid4(),
        domain=caller.domain.name,
        name=draft.name,
        format=draft.format,
        size=spool.size,
        checksum=spool.checksum,
        created=now,
        updated=now,
        thing_uuid=draft.thing_uuid,
        created_by=caller.key.uuid,
        updated_by=caller.key.uuid,
        tags=draft.tags,
    )
    with store.write() as session:
        _check_owner(session, caller, draft.thing_uuid)
        # The blob is in place before the row commits: a crash in between leaves an
        # unreferenced blob (swept on start), never a dataset without its bytes.
        store.blobs.commit(spool)
        session.put_dataset(dataset)
    return dataset


def update_dataset(
    store: Store,
    caller: Caller,
    uuid: UUID,
    changes: dict[str, Any],
    spool: Spool | None = None,
    claimed: str | None = None,
) -> Dataset:
    """Change metadata and/or content; a new format must fit the (new or stored) content."""
    require(caller, WRITE)
    check_changes(changes, UPDATABLE)
    if "name" in changes:
        _check_name(changes["name"])
    with store.read() as session:
        current = get_dataset(session, caller, uuid)
    fmt = Format(changes.get("format", current.format))
    if spool is not None:
        _check_content(fmt, spool, claimed)
    else:
        if claimed is not None and claimed.strip().lower() != current.checksum:
            raise InvalidRequest("the checksum sent does not match the content", param="checksum")
        if fmt != current.format:
            with store.blobs.open(current.checksum) as blob:
                check_format(fmt, blob)
    with store.write() as session:
        current = get_dataset(session, caller, uuid)
        if "thing_uuid" in changes:
            _check_owner(session, caller, changes["thing_uuid"])
        if "tags" in changes:
            changes = {**changes, "tags": tuple(changes["tags"])}
        changes = {k: v for k, v in changes.items() if k != "format"}
        content: dict[str, Any] = {}
        if spool is not None:
            store.blobs.commit(spool)
            content = {"size": spool.size, "checksum": spool.checksum}
        updated = replace(
            current,
            **changes,
            **content,
            format=fmt,
            updated=datetime.now(UTC),
            updated_by=caller.key.uuid,
        )
        session.put_dataset(updated)
    if updated.checksum != current.checksum:
        release(store, [current.checksum])
    return updated


def delete_dataset(store: Store, caller: Caller, uuid: UUID) -> None:
    require(caller, WRITE)
    with store.write() as session:
        dataset = get_dataset(session, caller, uuid)
        session.delete_dataset(caller.domain.name, uuid)
    release(store, [dataset.checksum])


def read_dataset(store: Store, caller: Caller, uuid: UUID) -> Dataset:
    require(caller, READ)
    with store.read() as session:
        return get_dataset(session, caller, uuid)


def open_content(store: Store, dataset: Dataset) -> BinaryIO:
    """The stored bytes of a dataset the caller has read (``read_dataset``)."""
    return store.blobs.open(dataset.checksum)


def list_datasets(store: Store, caller: Caller, where: DatasetFilter) -> list[Dataset]:
    require(caller, READ)
    with store.read() as session:
        if where.thing_uuid is not None:
            get_thing(session, caller, where.thing_uuid)
        return session.list_datasets(
            caller.domain.name, replace(where, collections=caller.collections)
        )
