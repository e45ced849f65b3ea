"""Things: create, find, list, move and delete, within what the caller may see."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from wattbase.core.access import READ, WRITE, require, visible
from wattbase.core.blob_refs import release
from wattbase.core.changes import check_changes
from wattbase.errors import Conflict, Forbidden, InvalidRequest, NotFound
from wattbase.model.datasets import DatasetFilter
from wattbase.model.tenancy import DEFAULT_COLLECTION, Caller
from wattbase.model.things import SeriesFilter, Thing, ThingFilter
from wattbase.storage.base import Session, Store

UPDATABLE = frozenset({"name", "state", "type", "tags", "parent", "device_id"})
ALL_ROWS = 1 << 62


@dataclass(frozen=True, slots=True)
class ThingDraft:
    name: str
    type: str | None = None
    state: str = "active"
    tags: tuple[str, ...] = ()
    parent: UUID | None = None
    device_id: str | None = None
    collection: str | None = None


def _check_name(name: str) -> None:
    if len(name.strip()) < 3:
        raise InvalidRequest("a thing's name needs at least 3 characters", param="name")


def get_thing(session: Session, caller: Caller, uuid: UUID) -> Thing:
    thing = session.get_thing(caller.domain.name, uuid)
    if thing is None or not visible(caller, thing):
        raise NotFound(f"no thing {uuid}", param="uuid")
    return thing


def find_node(session: Session, caller: Caller, ref: int | str | UUID, param: str) -> Thing:
    """A v1 node by its integer ``node_id`` or its UUID."""
    thing: Thing | None
    if isinstance(ref, int) and not isinstance(ref, bool):
        thing = session.find_thing(caller.domain.name, node_id=ref)
    else:
        try:
            uuid = ref if isinstance(ref, UUID) else UUID(str(ref))
        except ValueError:
            if str(ref).isdigit():
                thing = session.find_thing(caller.domain.name, node_id=int(str(ref)))
            else:
                raise InvalidRequest(
                    f"node id {ref!r} is neither an integer nor a UUID", param=param
                ) from None
        else:
            thing = session.get_thing(caller.domain.name, uuid)
    if thing is None or not visible(caller, thing):
        raise NotFound(f"no node {ref}", param=param)
    return thing


def _collection_for(caller: Caller, wanted: str | None) -> str:
    collection = wanted or DEFAULT_COLLECTION
    if not caller.sees_collection(collection):
        raise Forbidden(f"this key may not use collection '{collection}'", param="collection")
    return collection


def _check_parent(
    session: Session, caller: Caller, parent: UUID | None, moving: UUID | None
) -> None:
    if parent is None:
        return
    get_thing(session, caller, parent)
    # Walk up from the new parent: meeting the thing being moved would close a cycle.
    seen: set[UUID] = set()
    cursor: UUID | None = parent
    while cursor is not None and cursor not in seen:
        if cursor == moving:
            raise Conflict("a thing cannot be moved below itself", param="parent")
        seen.add(cursor)
        up = session.get_thing(caller.domain.name, cursor)
        cursor = None if up is None else up.parent


def _check_device_id(
    session: Session, caller: Caller, device_id: str | None, own: UUID | None
) -> None:
    if device_id is None:
        return
    other = session.find_thing(caller.domain.name, device_id=device_id)
    if other is not None and other.uuid != own:
        raise Conflict(f"device id '{device_id}' belongs to another thing", param="device_id")


def create_thing(store: Store, caller: Caller, draft: ThingDraft) -> Thing:
    require(caller, WRITE)
    _check_name(draft.name)
    collection = _collection_for(caller, draft.collection)
    with store.write() as session:
        _check_parent(session, caller, draft.parent, None)
        _check_device_id(session, caller, draft.device_id, None)
        thing = Thing(
            uuid=uuid4(),
            domain=caller.domain.name,
            node_id=session.next_node_id(caller.domain.name),
            name=draft.name,
            collection=collection,
            created=datetime.now(UTC),
            state=draft.state,
            type=draft.type,
            created_by=caller.key.uuid,
            tags=draft.tags,
            parent=draft.parent,
            device_id=draft.device_id,
        )
        session.put_thing(thing)
    return thing


def update_thing(store: Store, caller: Caller, uuid: UUID, changes: dict[str, Any]) -> Thing:
    """Apply the named changes; ``parent`` moves the thing (409 on a cycle)."""
    require(caller, WRITE)
    check_changes(changes, UPDATABLE)
    # Every face may send an explicit null; these columns have no "unset" to store it as.
    for name in ("name", "state"):
        if name in changes and changes[name] is None:
            raise InvalidRequest(f"{name} cannot be null", param=name)
    if "name" in changes:
        _check_name(changes["name"])
    with store.write() as session:
        thing = get_thing(session, caller, uuid)
        if "parent" in changes:
            _check_parent(session, caller, changes["parent"], uuid)
        if "device_id" in changes:
            _check_device_id(session, caller, changes["device_id"], uuid)
        if "tags" in changes:
            changes = {**changes, "tags": tuple(changes["tags"] or ())}
        updated = replace(thing, **changes)
        session.put_thing(updated)
    return updated


def list_things(store: Store, caller: Caller, where: ThingFilter) -> list[Thing]:
    require(caller, READ)
    with store.read() as session:
        return session.list_things(
            caller.domain.name, replace(where, collections=caller.collections)
        )


def children(store: Store, caller: Caller, things: list[Thing]) -> dict[UUID, list[UUID]]:
    """Child UUIDs of each thing, leaving out children the caller may not see."""
    with store.read() as session:
        found = session.child_uuids(caller.domain.name, [t.uuid for t in things])
        if caller.collections is None:
            return found
        return {
            parent: [c for c in kids if _sees(session, caller, c)] for parent, kids in found.items()
        }


def _sees(session: Session, caller: Caller, uuid: UUID) -> bool:
    thing = session.get_thing(caller.domain.name, uuid)
    return thing is not None and visible(caller, thing)


def delete_thing(store: Store, caller: Caller, uuid: UUID, *, cascade: bool = False) -> None:
    """Delete a thing; with children, series or datasets only when ``cascade`` (then all)."""
    require(caller, WRITE)
    domain = caller.domain.name
    with store.write() as session:
        root = get_thing(session, caller, uuid)
        doomed = [root]
        frontier = [root.uuid]
        while frontier:
            kids = [k for ks in session.child_uuids(domain, frontier).values() for k in ks]
            frontier = kids
            for kid in kids:
                thing = session.get_thing(domain, kid)
                if thing is not None:
                    doomed.append(thing)
        series = [
            s
            for t in doomed
            for s in session.list_series(domain, SeriesFilter(thing_uuid=t.uuid, limit=ALL_ROWS))
        ]
        datasets = [
            d
            for t in doomed
            for d in session.list_datasets(domain, DatasetFilter(thing_uuid=t.uuid, limit=ALL_ROWS))
        ]
        if not cascade and (len(doomed) > 1 or series or datasets):
            raise Conflict(
                f"thing {uuid} has {len(doomed) - 1} children, {len(series)} time series "
                f"and {len(datasets)} datasets; delete them first or pass cascade=true",
                param="cascade",
            )
        if any(not visible(caller, t) for t in doomed):
            raise Forbidden("the subtree holds things outside this key's collections")
        for d in datasets:
            session.delete_dataset(domain, d.uuid)
        for s in series:
            session.delete_series(domain, s.uuid)
        for t in reversed(doomed):
            session.delete_thing(domain, t.uuid)
    release(store, [d.checksum for d in datasets])
