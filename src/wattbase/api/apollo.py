"""The apollo device face: ``/apollo/devices/...`` with bearer tokens and collections."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
import numpy as np
from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from wattbase.api import envelopes
from wattbase.api.deps import SettingsDep, StoreDep
from wattbase.api.oauth import BearerCaller
from wattbase.api.openapi import COMMON, apollo_answer, errors
from wattbase.api.points_json import decode, epoch_seconds
from wattbase.core import devices
from wattbase.core.access import require
from wattbase.core.clock import zone
from wattbase.core.samples import SampleQuery, read_samples
from wattbase.core.timestamps import format_many, parse_many
from wattbase.core.writes import check_point_count
from wattbase.errors import InvalidRequest
from wattbase.model.points import WriteMode
from wattbase.model.query import TimeRange
from wattbase.model.tenancy import Caller
from wattbase.storage.base import Store

_STRING_OR_NULL = {"type": ["string", "null"]}
DEVICE = {
    "type": "object",
    "required": ["id", "deviceType"],
    "properties": {"id": {"type": "string"}, "deviceType": _STRING_OR_NULL},
}
RELATIONSHIPS = {
    "type": "object",
    "required": ["deviceId", "relationships"],
    "properties": {
        "deviceId": {"type": "string"},
        "relationships": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["pointId", "pointType", "timeseriesId"],
                "properties": {
                    "pointId": {"type": "string"},
                    "pointType": _STRING_OR_NULL,
                    "timeseriesId": {"type": "string", "format": "uuid"},
                },
            },
        },
    },
}
REPORTS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["timeseriesId"],
        "properties": {"timeseriesId": {"type": "string", "format": "uuid"}},
    },
}
SAMPLES_PAGE = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["unixTimestamp", "timestamp", "val", "timeseriesId"],
        "properties": {
            "unixTimestamp": {"type": "number"},
            "timestamp": {"type": "string", "format": "date-time"},
            "val": {"type": "number"},
            "timeseriesId": {"type": "string", "format": "uuid"},
        },
    },
}
POINT = {
    "type": "object",
    "required": ["timeseriesId", "deviceId", "pointId", "pointType", "created"],
    "properties": {
        "timeseriesId": {"type": "string", "format": "uuid"},
        "deviceId": _STRING_OR_NULL,
        "pointId": {"type": "string"},
        "pointType": _STRING_OR_NULL,
        "created": {"type": "string", "format": "date-time"},
    },
}

router = APIRouter(
    prefix=envelopes.APOLLO_PREFIX, tags=["apollo"], responses=errors("apollo", *COMMON)
)
UTC = zone("UTC")

Collection = Annotated[
    str | None,
    Header(
        alias="erCollectionId",
        description="The collection a new device goes into; also narrows what the request "
        "may touch (403 outside it).",
    ),
]
Cursor = Annotated[
    str | None,
    Header(alias="ContinuationToken", description="paging.continuationToken of the last page."),
]


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    deviceType: str | None = None


class PointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    pointType: str | None = None


class SampleIn(msgspec.Struct, forbid_unknown_fields=True):
    timeseriesId: UUID
    val: float
    timestamp: str | float
    metric: str | None = None


SAMPLES = msgspec.json.Decoder(list[SampleIn])


def _caller(caller: Caller, any_of: frozenset[Any], collection: str | None) -> Caller:
    require(caller, any_of)
    return devices.apollo_caller(caller, collection)


@router.post(
    "/devices",
    operation_id="apollo_create_device",
    summary="Create a device",
    status_code=202,
    responses={**apollo_answer(202, "The device", DEVICE, post=True), **errors("apollo", 409)},
)
def create_device(
    caller: BearerCaller, store: StoreDep, device: DeviceIn, collection: Collection = None
) -> Response:
    """A new device, in the ``erCollectionId`` collection (else the domain's default)."""
    who = _caller(caller, devices.APOLLO_WRITE, collection)
    devices.create_device(store, who, device.id, device.deviceType, collection)
    body = {"id": device.id, "deviceType": device.deviceType}
    return envelopes.apollo(body, 202, post=True)


@router.post(
    "/devices/{deviceId}/timeseries",
    operation_id="apollo_add_points",
    summary="Add points (time series) to a device",
    status_code=202,
    responses=apollo_answer(202, "The series made", RELATIONSHIPS, post=True),
)
def add_points(
    caller: BearerCaller,
    store: StoreDep,
    deviceId: str,
    points: list[PointIn],
    collection: Collection = None,
) -> Response:
    """One time series per point; a known point keeps its series, an unknown device is made."""
    who = _caller(caller, devices.APOLLO_WRITE, collection)
    drafts = [devices.PointDraft(p.id, p.pointType) for p in points]
    _, made = devices.attach_points(store, who, deviceId, drafts, collection)
    relationships = [
        {"pointId": s.name, "pointType": s.point_type, "timeseriesId": str(s.uuid)} for s in made
    ]
    return envelopes.apollo({"deviceId": deviceId, "relationships": relationships}, 202, post=True)


def _write(
    store: Store, caller: Caller, device_id: str, body: bytes, mode: WriteMode, max_points: int
) -> list[dict[str, Any]]:
    items = decode(SAMPLES, body)
    check_point_count(len(items), max_points)
    v = np.fromiter((x.val for x in items), dtype=np.float64, count=len(items))
    bad = ~np.isfinite(v)
    if bad.any():
        raise InvalidRequest("val must be a finite number", param=f"[{int(np.argmax(bad))}].val")
    ts = parse_many([x.timestamp for x in items], None, lambda i: f"[{i}].timestamp")
    groups: dict[UUID, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(item.timeseriesId, []).append(i)
    samples = [
        devices.SamplesIn(uuid, ts[where], v[where], f"[{where[0]}]")
        for uuid, where in groups.items()
    ]
    reports = devices.write_samples(store, caller, device_id, samples, mode)
    return [{"timeseriesId": str(r.series.uuid), **r.counts.as_dict()} for r in reports]


@router.post(
    "/devices/{deviceId}/timeseries/samples",
    operation_id="apollo_write_samples",
    summary="Write samples of a device's time series",
    status_code=202,
    responses=apollo_answer(202, "Counts per series", REPORTS, post=True),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["timeseriesId", "val", "timestamp"],
                            "properties": {
                                "timeseriesId": {"type": "string", "format": "uuid"},
                                "val": {"type": "number"},
                                "timestamp": {
                                    "type": "string",
                                    "format": "date-time",
                                    "description": "RFC 3339 with an offset, or Unix seconds.",
                                },
                                "metric": {"type": "string"},
                            },
                        },
                    }
                }
            },
        }
    },
)
async def write_samples(
    request: Request,
    caller: BearerCaller,
    store: StoreDep,
    settings: SettingsDep,
    deviceId: str,
    collection: Collection = None,
    overwrite: Annotated[
        WriteMode | None, Query(description="Write mode; absent means insert.")
    ] = None,
) -> Response:
    """Samples go through the one write engine: all of the request is stored or none."""
    who = _caller(caller, devices.APOLLO_WRITE, collection)
    body = await request.body()
    mode = overwrite or WriteMode.INSERT
    most = settings.max_points_per_request
    reports = await run_in_threadpool(_write, store, who, deviceId, body, mode, most)
    return envelopes.apollo(reports, 202, post=True)


def _instant(text: str | None, param: str) -> int | None:
    return None if text is None else int(parse_many([text], None, lambda _: param)[0])


def _descending(orderby: str) -> bool:
    words = orderby.lower().split()
    if words in (["timestamp"], ["timestamp", "asc"]):
        return False
    if words == ["timestamp", "desc"]:
        return True
    raise InvalidRequest("orderby is 'timestamp asc' or 'timestamp desc'", param="orderby")


def _uuids(text: str | None) -> tuple[UUID, ...]:
    parts = [p.strip() for p in (text or "").split(",") if p.strip()]
    try:
        return tuple(dict.fromkeys(UUID(p) for p in parts))
    except ValueError:
        raise InvalidRequest("timeseries_ids holds a value that is not a UUID") from None


@router.get(
    "/devices/{deviceId}/timeseries/samples",
    operation_id="apollo_read_samples",
    summary="Read samples of a device's time series, paged",
    responses=apollo_answer(200, "One page of samples, and paging", SAMPLES_PAGE),
)
def read_samples_route(
    caller: BearerCaller,
    store: StoreDep,
    settings: SettingsDep,
    deviceId: str,
    timeseries_ids: Annotated[str | None, Query(description="Comma-separated UUIDs.")] = None,
    startTime: Annotated[str | None, Query(description="RFC 3339, inclusive.")] = None,
    endTime: Annotated[str | None, Query(description="RFC 3339, exclusive.")] = None,
    orderby: Annotated[str, Query(description="timestamp asc or timestamp desc")] = "timestamp asc",
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=10_000,
            description="Samples a page; a page holds at most WATTBASE_MAX_RAW_POINTS.",
        ),
    ] = 1000,
    collection: Collection = None,
    continuation: Cursor = None,
) -> Response:
    """Samples in timestamp order; send ``paging.continuationToken`` back in the
    ``ContinuationToken`` header for the next page. Each sample comes exactly once. A page
    holds at most ``WATTBASE_MAX_RAW_POINTS`` samples, whatever ``limit`` asks."""
    who = _caller(caller, devices.APOLLO_READ, collection)
    query = SampleQuery(
        device_id=deviceId,
        series=_uuids(timeseries_ids),
        span=TimeRange(_instant(startTime, "startTime"), _instant(endTime, "endTime")),
        descending=_descending(orderby),
        limit=min(limit, settings.max_raw_points),
    )
    page = read_samples(store, who, query, continuation)
    stamps = format_many(page.ts, UTC)
    data = [
        {"unixTimestamp": u, "timestamp": t, "val": v, "timeseriesId": str(s)}
        for u, t, v, s in zip(
            epoch_seconds(page.ts), stamps, page.v.tolist(), page.series, strict=True
        )
    ]
    paging = {"totalCount": page.total, "continuationToken": page.cursor}
    return envelopes.apollo(data, extra={"paging": paging})


@router.get(
    "/devices/{deviceId}/timeseries/{timeseriesId}",
    operation_id="apollo_get_timeseries",
    summary="Get one time series (point) of a device",
    responses=apollo_answer(200, "The point", POINT),
)
def get_timeseries(
    caller: BearerCaller,
    store: StoreDep,
    deviceId: str,
    timeseriesId: UUID,
    collection: Collection = None,
) -> Response:
    """The series behind a point: its id, point id and point type."""
    who = _caller(caller, devices.APOLLO_READ, collection)
    thing, series = devices.get_point(store, who, deviceId, timeseriesId)
    data = {
        "timeseriesId": str(series.uuid),
        "deviceId": thing.device_id,
        "pointId": series.name,
        "pointType": series.point_type,
        "created": series.created.isoformat(),
    }
    return envelopes.apollo(data)
