"""EnergyView API v1: ``/{domain}/api/v1/timeseries`` and ``/{domain}/api/v1/nodes``."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from uuid import UUID

import msgspec
import numpy as np
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from msgspec import Meta
from pydantic import BaseModel, ConfigDict, Field

from wattbase.api.deps import SettingsDep, StoreDep, V1Caller
from wattbase.api.formatted_points import FORMATTED
from wattbase.api.openapi import COMMON, MAX_OFFSET, errors
from wattbase.api.points_json import decode, json_bytes
from wattbase.api.query_params import parameters, query_of
from wattbase.api.reads import Opener, answer_read
from wattbase.core import things as things_core
from wattbase.core.access import READ, require
from wattbase.core.clock import zone
from wattbase.core.reads import ReadSpec, read_series
from wattbase.core.series import series_on
from wattbase.core.timestamps import format_many, parse_many
from wattbase.core.writes import (
    ByNodeTag,
    PointsIn,
    check_point_count,
    check_values,
    write_points,
)
from wattbase.errors import InvalidRequest
from wattbase.model.points import WriteMode
from wattbase.model.query import V1_RESOLUTIONS, Aggregate, TimeRange
from wattbase.model.tenancy import Caller
from wattbase.model.things import Series, SeriesFilter, Thing, ThingFilter
from wattbase.storage.base import Session, Store

router = APIRouter(prefix="/{domain}/api/v1", tags=["v1"], responses=errors("v1", *COMMON))
ALL = 1 << 62
Resolution = Literal[
    "second", "minute", "5minute", "10minute", "15minute", "20minute", "30minute",
    "hour", "day", "month", "year", "decade", "century", "millennia",
]  # fmt: skip


class V1Point(msgspec.Struct, gc=False):
    v: float
    ts: str | float


class V1Series(msgspec.Struct):
    node_id: int | str
    tag: str
    data: list[V1Point]


BODY_DECODER = msgspec.json.Decoder(list[V1Series])

WRITE_BODY_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["node_id", "tag", "data"],
        "properties": {
            "node_id": {
                "oneOf": [{"type": "integer"}, {"type": "string", "format": "uuid"}],
                "description": "The node's integer id or its UUID.",
            },
            "tag": {"type": "string", "minLength": 1},
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["v", "ts"],
                    "properties": {
                        "v": {"type": "number"},
                        "ts": {
                            "type": "string",
                            "format": "date-time",
                            "description": "RFC 3339; naive times are in the domain's zone.",
                        },
                    },
                },
            },
        },
    },
}


def _columns(item: V1Series, index: int, naive_zone: Any) -> PointsIn:
    place = f"[{index}]"
    points = item.data
    v = np.fromiter((p.v for p in points), dtype=np.float64, count=len(points))
    check_values(v, f"{place}.data")
    ts = parse_many([p.ts for p in points], naive_zone, lambda i: f"{place}.data[{i}].ts")
    return PointsIn(target=ByNodeTag(item.node_id, item.tag), ts=ts, v=v, place=place)


def _write(
    store: Store, caller: Caller, body: bytes, mode: WriteMode, max_points: int
) -> list[dict[str, Any]]:
    items = decode(BODY_DECODER, body)
    check_point_count(sum(len(item.data) for item in items), max_points)
    naive_zone = zone(caller.domain.timezone)
    batches = [_columns(item, i, naive_zone) for i, item in enumerate(items)]
    reports = write_points(store, caller, batches, mode)
    return [
        {"series_uuid": str(r.series.uuid), "tag": r.series.name, **r.counts.as_dict()}
        for r in reports
    ]


class WriteQuery(msgspec.Struct, frozen=True):
    silent: Annotated[bool, Meta(description="Answer 204 without the report.")] = False
    overwrite: Annotated[WriteMode | None, Meta(description="Write mode; absent means insert.")] = (
        None
    )


WriteQueryDep = Annotated[WriteQuery, Depends(query_of(WriteQuery))]


@router.post(
    "/timeseries",
    operation_id="v1_write_timeseries",
    summary="Write points for (node, tag) pairs",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": WRITE_BODY_SCHEMA}},
        },
        "parameters": parameters(WriteQuery),
    },
    responses={
        204: {"description": "Stored (silent=true)"},
        200: {"description": "Per-series report"},
    },
)
async def write_timeseries(
    request: Request,
    caller: V1Caller,
    store: StoreDep,
    settings: SettingsDep,
    query: WriteQueryDep,
) -> Response:
    """Write points; the whole request is stored or none of it."""
    body = await request.body()
    mode, most = query.overwrite or WriteMode.INSERT, settings.max_points_per_request
    reports = await run_in_threadpool(_write, store, caller, body, mode, most)
    if query.silent:
        return Response(status_code=204)
    return Response(json_bytes({"timeseries": reports}), media_type="application/json")


def _split(*values: str | None) -> list[str]:
    return [part.strip() for v in values if v for part in v.split(",") if part.strip()]


def _instant(text: str | None, caller: Caller, param: str) -> int | None:
    if text is None:
        return None
    return int(parse_many([text], zone(caller.domain.timezone), lambda _: param)[0])


def _node_of(session: Session, caller: Caller, series: Series, cache: dict[UUID, Thing]) -> Thing:
    if series.thing_uuid not in cache:
        cache[series.thing_uuid] = things_core.get_thing(session, caller, series.thing_uuid)
    return cache[series.thing_uuid]


def _read(
    opener: Opener, caller: Caller, nodes: list[str], tags: list[str], spec: ReadSpec, epoch: bool
) -> tuple[list[dict[str, Any]], int | None]:
    require(caller, READ)
    things: dict[UUID, Thing] = {}
    chosen: list[Series] = []
    with opener() as session:
        if nodes:
            for ref in nodes:
                node = things_core.find_node(session, caller, ref, param="node_id")
                things[node.uuid] = node
                if tags:
                    found = (series_on(session, caller, node, t, create=False) for t in tags)
                    chosen.extend(s for s in found if s is not None)
                else:
                    where = SeriesFilter(thing_uuid=node.uuid, limit=ALL)
                    chosen.extend(session.list_series(caller.domain.name, where))
        else:
            where = SeriesFilter(names=tuple(tags), collections=caller.collections, limit=ALL)
            chosen = session.list_series(caller.domain.name, where)
        pages = [(s, read_series(session, s, spec)) for s in chosen]
        owners = [_node_of(session, caller, s, things) for s in chosen]
    next_start = min((p.next_start for _, p in pages if p.next_start is not None), default=None)
    out_zone = zone("UTC") if spec.precision is None else spec.tz
    answer = []
    for (series, page), node in zip(pages, owners, strict=True):
        ts, v = page.ts, page.v
        if next_start is not None:
            # Every series stops where the next page starts, so no point comes twice.
            keep = ts < next_start
            ts, v = ts[keep], v[keep]
        answer.append(
            {
                "node_id": node.node_id,
                "node_uuid": str(node.uuid),
                "tag": series.name,
                "data": FORMATTED.points_array(ts, v, None if epoch else out_zone),
            }
        )
    return answer, next_start


class ReadQuery(msgspec.Struct, frozen=True):
    node_id: Annotated[str | None, Meta(description="A node's integer id or UUID.")] = None
    node_ids: Annotated[str | None, Meta(description="Comma-separated node ids or UUIDs.")] = None
    tag: str | None = None
    tags: Annotated[str | None, Meta(description="Comma-separated tags.")] = None
    start: Annotated[str | None, Meta(description="RFC 3339, inclusive.")] = None
    end: Annotated[str | None, Meta(description="RFC 3339, exclusive.")] = None
    resolution: Annotated[
        Resolution | None, Meta(description="Bucket size; absent: raw points.")
    ] = None
    aggregate: Aggregate = Aggregate.AVG
    epoch: Annotated[bool, Meta(description="Timestamps as Unix seconds.")] = False


ReadQueryDep = Annotated[ReadQuery, Depends(query_of(ReadQuery))]


@router.get(
    "/timeseries",
    operation_id="v1_read_timeseries",
    summary="Read points or bucketed aggregates",
    openapi_extra={"parameters": parameters(ReadQuery)},
)
async def read_timeseries(
    request: Request,
    caller: V1Caller,
    store: StoreDep,
    settings: SettingsDep,
    query: ReadQueryDep,
) -> Response:
    """Points per (node, tag); buckets follow the domain's time zone."""
    nodes, wanted = _split(query.node_id, query.node_ids), _split(query.tag, query.tags)
    if not nodes and not wanted:
        raise InvalidRequest("give node_id, node_ids, tag or tags", param="node_id")
    spec = ReadSpec(
        span=TimeRange(_instant(query.start, caller, "start"), _instant(query.end, caller, "end")),
        precision=V1_RESOLUTIONS[query.resolution] if query.resolution else None,
        aggregate=query.aggregate,
        tz=zone(caller.domain.timezone),
        limit=settings.max_raw_points,
    )
    answer, next_start = await answer_read(
        store,
        lambda opener: _read(opener, caller, nodes, wanted, spec, query.epoch),
        # Buckets are read from the database: only raw points may be in memory.
        from_memory=spec.precision is None,
    )
    headers = {}
    if next_start is not None:
        following = dict(request.query_params)
        following["start"] = format_many(np.array([next_start]), zone("UTC"))[0]
        headers["Link"] = f'<{request.url.path}?{urlencode(following)}>; rel="next"'
    return Response(
        json_bytes({"timeseries": answer}), media_type="application/json", headers=headers
    )


# Nodes


class NodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=3)
    type: str | None = None
    state: str = "active"
    tags: list[str] = Field(default_factory=list)
    parent: int | UUID | None = Field(None, description="Parent node: integer id or UUID.")


class NodeChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=3)
    type: str | None = None
    state: str | None = None
    tags: list[str] | None = None
    parent: int | UUID | None = None


class NodeOut(BaseModel):
    id: int
    uuid: UUID
    name: str
    type: str | None
    state: str
    tags: list[str]
    parent: UUID | None
    created_by: UUID | None


def _node_out(thing: Thing) -> NodeOut:
    return NodeOut(
        id=thing.node_id,
        uuid=thing.uuid,
        name=thing.name,
        type=thing.type,
        state=thing.state,
        tags=list(thing.tags),
        parent=thing.parent,
        created_by=thing.created_by,
    )


def _parent_uuid(store: Store, caller: Caller, ref: int | UUID | None) -> UUID | None:
    if ref is None:
        return None
    with store.read() as session:
        return things_core.find_node(session, caller, ref, param="parent").uuid


def _get_node(store: Store, caller: Caller, ref: str) -> Thing:
    require(caller, READ)
    with store.read() as session:
        return things_core.find_node(session, caller, ref, param="id")


@router.get("/nodes", operation_id="v1_list_nodes", summary="List nodes")
def list_nodes(
    caller: V1Caller,
    store: StoreDep,
    tags: Annotated[str | None, Query(description="Comma-separated; all must match.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[NodeOut]:
    """Nodes of the domain that this key may see, by node id."""
    where = ThingFilter(tags=tuple(_split(tags)), limit=limit, offset=offset)
    return [_node_out(t) for t in things_core.list_things(store, caller, where)]


@router.post("/nodes", operation_id="v1_create_node", summary="Create a node", status_code=201)
def create_node(caller: V1Caller, store: StoreDep, node: NodeIn) -> NodeOut:
    """Create a node; it gets the next integer id of the domain."""
    draft = things_core.ThingDraft(
        name=node.name,
        type=node.type,
        state=node.state,
        tags=tuple(node.tags),
        parent=_parent_uuid(store, caller, node.parent),
    )
    return _node_out(things_core.create_thing(store, caller, draft))


@router.get("/nodes/{id}", operation_id="v1_get_node", summary="Get a node")
def get_node(caller: V1Caller, store: StoreDep, id: str) -> NodeOut:
    """One node, by integer id or UUID."""
    return _node_out(_get_node(store, caller, id))


@router.put(
    "/nodes/{id}",
    operation_id="v1_update_node",
    summary="Change a node",
    responses=errors("v1", 409),
)
def update_node(caller: V1Caller, store: StoreDep, id: str, change: NodeChange) -> NodeOut:
    """Change the fields sent; ``parent`` moves the node (409 if that makes a cycle)."""
    thing = _get_node(store, caller, id)
    changes: dict[str, Any] = change.model_dump(exclude_unset=True)
    if "parent" in changes:
        changes["parent"] = _parent_uuid(store, caller, change.parent)
    return _node_out(things_core.update_thing(store, caller, thing.uuid, changes))


@router.delete(
    "/nodes/{id}",
    operation_id="v1_delete_node",
    summary="Delete a node",
    status_code=204,
    responses=errors("v1", 409),
)
def delete_node(caller: V1Caller, store: StoreDep, id: str, cascade: bool = False) -> Response:
    """Delete a node; one with children, series or datasets only with ``cascade=true``."""
    thing = _get_node(store, caller, id)
    things_core.delete_thing(store, caller, thing.uuid, cascade=cascade)
    return Response(status_code=204)
