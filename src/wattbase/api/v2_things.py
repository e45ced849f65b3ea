"""EnergyView API v2 things: ``/api/v2/things``, a hierarchy with derived ``children``."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from wattbase.api.deps import StoreDep, V2Caller
from wattbase.api.openapi import COMMON, MAX_OFFSET, errors
from wattbase.api.v2_series import SeriesOut, series_out, split_tags
from wattbase.core import series as series_core
from wattbase.core import things as things_core
from wattbase.core.access import READ, require
from wattbase.errors import InvalidRequest
from wattbase.model.tenancy import Caller
from wattbase.model.things import SeriesFilter, Thing, ThingFilter
from wattbase.storage.base import Store

router = APIRouter(prefix="/api/v2", tags=["v2 things"], responses=errors("v2", *COMMON))
# Fields of the answer that a client may send back unchanged; they are not changed by it.
READ_ONLY = ("uuid", "created_by", "children", "node_id")

Limit = Annotated[int, Query(ge=1, le=1000, description="Most items in the answer.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]
Tags = Annotated[str | None, Query(description="Comma-separated; every tag must match.")]


class ThingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=3)
    state: str = "active"
    type: str | None = Field(None, description="E.g. office/building.")
    tags: list[str] = Field(default_factory=list)
    parent: UUID | None = None


class ThingChange(BaseModel):
    """The fields to change; ``parent`` moves the thing (``null``: to the top)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=3)
    state: str | None = None
    type: str | None = None
    tags: list[str] | None = None
    parent: UUID | None = None
    uuid: UUID | None = Field(None, description="Read-only; if sent, must be this thing's.")
    created_by: UUID | None = Field(None, description="Read-only; ignored.")
    children: list[UUID] | None = Field(None, description="Read-only (derived); ignored.")
    node_id: int | None = Field(None, description="Read-only; ignored.")


class ThingOut(BaseModel):
    uuid: UUID
    name: str
    state: str
    type: str | None
    created_by: UUID | None
    tags: list[str]
    parent: UUID | None
    children: list[UUID]
    node_id: int


def _out(thing: Thing, kids: list[UUID]) -> ThingOut:
    return ThingOut(
        uuid=thing.uuid,
        name=thing.name,
        state=thing.state,
        type=thing.type,
        created_by=thing.created_by,
        tags=list(thing.tags),
        parent=thing.parent,
        children=kids,
        node_id=thing.node_id,
    )


def _with_children(store: Store, caller: Caller, things: list[Thing]) -> list[ThingOut]:
    kids = things_core.children(store, caller, things)
    return [_out(t, kids.get(t.uuid, [])) for t in things]


def _get(store: Store, caller: Caller, uuid: UUID) -> ThingOut:
    require(caller, READ)
    with store.read() as session:
        thing = things_core.get_thing(session, caller, uuid)
    return _with_children(store, caller, [thing])[0]


@router.get("/things", operation_id="v2_list_things", summary="List things")
def list_things(
    caller: V2Caller, store: StoreDep, tags: Tags = None, limit: Limit = 100, offset: Offset = 0
) -> list[ThingOut]:
    """Things this key may see, in creation order (by node id)."""
    where = ThingFilter(tags=split_tags(tags), limit=limit, offset=offset)
    return _with_children(store, caller, things_core.list_things(store, caller, where))


@router.post("/things", operation_id="v2_create_thing", summary="Create a thing", status_code=201)
def create_thing(caller: V2Caller, store: StoreDep, thing: ThingIn) -> ThingOut:
    """Create a thing, optionally below a ``parent``."""
    draft = things_core.ThingDraft(
        name=thing.name,
        type=thing.type,
        state=thing.state,
        tags=tuple(thing.tags),
        parent=thing.parent,
    )
    return _out(things_core.create_thing(store, caller, draft), [])


@router.get("/things/{uuid}", operation_id="v2_get_thing", summary="Get a thing")
def get_thing(caller: V2Caller, store: StoreDep, uuid: UUID) -> ThingOut:
    """One thing, with the UUIDs of its children."""
    return _get(store, caller, uuid)


@router.put(
    "/things/{uuid}",
    operation_id="v2_update_thing",
    summary="Change or move a thing",
    responses=errors("v2", 409),
)
def update_thing(caller: V2Caller, store: StoreDep, uuid: UUID, change: ThingChange) -> ThingOut:
    """Change the fields sent; a new ``parent`` moves the thing (409 if that makes a cycle)."""
    changes: dict[str, Any] = change.model_dump(exclude_unset=True)
    if changes.get("uuid", uuid) != uuid:
        raise InvalidRequest("uuid differs from the thing's in the path", param="uuid")
    for name in READ_ONLY:
        changes.pop(name, None)
    if "tags" in changes and changes["tags"] is None:
        changes["tags"] = []
    for name in ("name", "state"):
        if name in changes and changes[name] is None:
            raise InvalidRequest(f"{name} cannot be null", param=name)
    things_core.update_thing(store, caller, uuid, changes)
    return _get(store, caller, uuid)


@router.delete(
    "/things/{uuid}",
    operation_id="v2_delete_thing",
    summary="Delete a thing",
    status_code=204,
    responses=errors("v2", 409),
)
def delete_thing(
    caller: V2Caller,
    store: StoreDep,
    uuid: UUID,
    cascade: Annotated[
        bool, Query(description="Also delete children, series, their points and datasets.")
    ] = False,
) -> Response:
    """Delete a thing; one with children, series or datasets only with ``cascade=true`` (409)."""
    things_core.delete_thing(store, caller, uuid, cascade=cascade)
    return Response(status_code=204)


@router.get(
    "/things/{uuid}/timeseries",
    operation_id="v2_list_thing_timeseries",
    summary="List a thing's time series",
)
async def list_thing_series(
    caller: V2Caller,
    store: StoreDep,
    uuid: UUID,
    tags: Tags = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[SeriesOut]:
    """The time series of one thing, in creation order."""
    where = SeriesFilter(thing_uuid=uuid, tags=split_tags(tags), limit=limit, offset=offset)
    found = await run_in_threadpool(series_core.list_series, store, caller, where)
    return [series_out(s) for s in found]
