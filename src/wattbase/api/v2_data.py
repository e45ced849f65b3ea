"""EnergyView API v2 points: write, read and delete one series' data; ``tsquery`` for many."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from msgspec import Meta

from wattbase.api.deps import SettingsDep, StoreDep, V2Caller
from wattbase.api.formatted_points import FORMATTED
from wattbase.api.openapi import COMMON, errors
from wattbase.api.points_json import decode, json_bytes
from wattbase.api.query_params import parameters, query_of
from wattbase.api.reads import Opener, answer_read
from wattbase.core.access import READ, WRITE, require
from wattbase.core.clock import zone
from wattbase.core.reads import ReadSpec
from wattbase.core.series import get_series
from wattbase.core.timestamps import format_one, parse_many
from wattbase.core.units import into_series_unit, read_in_unit
from wattbase.core.writes import ByUuid, PointsIn, check_point_count, check_values, write_points
from wattbase.errors import InvalidRequest
from wattbase.model.points import PointCounts, PointsPage, WriteMode
from wattbase.model.query import Aggregate, Precision, TimeRange, ValueFilter
from wattbase.model.tenancy import Caller
from wattbase.model.things import Series
from wattbase.storage.base import Store

router = APIRouter(prefix="/api/v2", tags=["v2 data"], responses=errors("v2", *COMMON))
UTC = zone("UTC")
# A '+' in an unencoded query string arrives as a space: "...T00:00:00 01:00".
_SPACED_OFFSET = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


class V2Point(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """Either ``{v, ts}`` or the seed's ``{timestamp, value}``."""

    v: float | msgspec.UnsetType = msgspec.UNSET
    ts: str | float | msgspec.UnsetType = msgspec.UNSET
    value: float | msgspec.UnsetType = msgspec.UNSET
    timestamp: str | float | msgspec.UnsetType = msgspec.UNSET


BODY_DECODER = msgspec.json.Decoder(list[V2Point])
WRITE_BODY_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "oneOf": [
            {
                "type": "object",
                "required": ["v", "ts"],
                "properties": {"v": {"type": "number"}, "ts": {"type": "string"}},
            },
            {
                "type": "object",
                "required": ["timestamp", "value"],
                "properties": {"value": {"type": "number"}, "timestamp": {"type": "string"}},
            },
        ],
        "description": "RFC 3339 timestamps with Z or an offset; naive ones are rejected.",
    },
}


def _columns(points: list[V2Point]) -> tuple[Any, Any]:
    vs: list[object] = [p.value if p.v is msgspec.UNSET else p.v for p in points]
    tss: list[object] = [p.timestamp if p.ts is msgspec.UNSET else p.ts for p in points]
    for i, (v, ts) in enumerate(zip(vs, tss, strict=True)):
        if v is msgspec.UNSET:
            raise InvalidRequest(f"[{i}]: a point needs v (or value)", param=f"[{i}].v")
        if ts is msgspec.UNSET:
            raise InvalidRequest(f"[{i}]: a point needs ts (or timestamp)", param=f"[{i}].ts")
    v_arr = np.array(vs, dtype=np.float64)
    check_values(v_arr, "")
    ts_arr = parse_many(tss, None, lambda i: f"[{i}].ts")  # type: ignore[arg-type]
    return ts_arr, v_arr


def _write(
    store: Store,
    caller: Caller,
    uuid: UUID,
    body: bytes,
    unit: str | None,
    mode: WriteMode,
    max_points: int,
) -> tuple[PointCounts, int]:
    points = decode(BODY_DECODER, body)
    check_point_count(len(points), max_points)
    ts, v = _columns(points)
    if unit is not None:
        require(caller, WRITE)
        with store.read() as session:
            series = get_series(session, caller, uuid)
        v = into_series_unit(v, unit, series.si_unit)
    batch = PointsIn(target=ByUuid(uuid), ts=ts, v=v, place="uuid")
    report = write_points(store, caller, [batch], mode)[0]
    return report.counts, len(ts)


@router.post(
    "/timeseries/{uuid}/data",
    operation_id="v2_write_data",
    summary="Write points to a time series",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": WRITE_BODY_SCHEMA}},
        }
    },
    responses={
        201: {"description": "Per-series report"},
        204: {"description": "Every point was outside the series' bounds"},
    },
)
async def write_data(
    request: Request,
    caller: V2Caller,
    store: StoreDep,
    settings: SettingsDep,
    uuid: UUID,
    unit: Annotated[
        str | None, Query(description="Unit of the values sent; converted to the si_unit.")
    ] = None,
    overwrite: Annotated[
        WriteMode | None, Query(description="Write mode; absent means insert.")
    ] = None,
) -> Response:
    """Store points; the whole request or nothing. Out-of-bounds points are counted, not stored."""
    body = await request.body()
    counts, sent = await run_in_threadpool(
        _write,
        store,
        caller,
        uuid,
        body,
        unit,
        overwrite or WriteMode.INSERT,
        settings.max_points_per_request,
    )
    if sent and counts.out_of_bounds == sent:
        return Response(status_code=204)
    report = {"uuid": str(uuid), **counts.as_dict()}
    return Response(json_bytes(report), status_code=201, media_type="application/json")


class ReadParams(msgspec.Struct, frozen=True):
    start: Annotated[
        str | None, Meta(description="RFC 3339, inclusive; naive times are in `timezone`.")
    ] = None
    end: Annotated[str | None, Meta(description="RFC 3339, exclusive.")] = None
    precision: Annotated[Precision | None, Meta(description="Bucket size; absent: raw points.")] = (
        None
    )
    aggregate: Annotated[
        Aggregate, Meta(description="What each bucket holds (with precision).")
    ] = Aggregate.AVG
    timezone: Annotated[
        str | None, Meta(description="IANA zone of the buckets; default: the domain's.")
    ] = None
    unit: Annotated[str | None, Meta(description="Answer in this unit (pint).")] = None
    ge: Annotated[float | None, Meta(description="Only values >= ge.")] = None
    le: Annotated[
        float | None, Meta(description="Only values <= le; ge > le keeps values outside.")
    ] = None

    @property
    def values(self) -> ValueFilter:
        return ValueFilter(self.ge, self.le)


ReadQuery = Annotated[ReadParams, Depends(query_of(ReadParams))]


def _instant(text: str | None, tz: ZoneInfo, param: str) -> int | None:
    if text is None:
        return None
    text = _SPACED_OFFSET.sub(r"\1+\2", text.strip())
    return int(parse_many([text], tz, lambda _: param)[0])


def _spec(caller: Caller, params: ReadParams, limit: int) -> ReadSpec:
    tz = zone(params.timezone or caller.domain.timezone)
    return ReadSpec(
        span=TimeRange(_instant(params.start, tz, "start"), _instant(params.end, tz, "end")),
        precision=params.precision,
        aggregate=params.aggregate,
        tz=tz,
        values=params.values,
        limit=limit,
    )


def _read(
    opener: Opener, caller: Caller, uuids: list[UUID], params: ReadParams, limit: int
) -> tuple[list[tuple[Series, PointsPage]], ReadSpec]:
    require(caller, READ)
    spec = _spec(caller, params, limit)
    with opener() as session:
        chosen = [get_series(session, caller, u, param="uuids") for u in uuids]
        pages = [(s, read_in_unit(session, s, spec, params.unit)) for s in chosen]
    return pages, spec


def _data(page: PointsPage, spec: ReadSpec, stop: int | None) -> msgspec.Raw:
    ts, v = page.ts, page.v
    if stop is not None:
        # Every series stops where the next page starts, so no point comes twice.
        keep = ts < stop
        ts, v = ts[keep], v[keep]
    return FORMATTED.points_array(ts, v, UTC if spec.precision is None else spec.tz)


def _answer(request: Request, body: object, next_start: int | None) -> Response:
    headers = {}
    if next_start is not None:
        query = dict(request.query_params)
        query["start"] = format_one(next_start, UTC)
        headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
    return Response(json_bytes(body), media_type="application/json", headers=headers)


@router.get(
    "/timeseries/{uuid}/data",
    operation_id="v2_read_data",
    summary="Read points or bucketed aggregates",
    openapi_extra={"parameters": parameters(ReadParams)},
)
async def read_data(
    request: Request,
    caller: V2Caller,
    store: StoreDep,
    settings: SettingsDep,
    uuid: UUID,
    params: ReadQuery,
) -> Response:
    """``[{v, ts}]``: raw points (UTC) or one aggregate per bucket (timestamps in `timezone`).

    A raw answer holds at most ``WATTBASE_MAX_RAW_POINTS`` points; the rest is offered by a
    ``Link: <...>; rel="next"`` header.
    """
    pages, spec = await answer_read(
        store,
        lambda opener: _read(opener, caller, [uuid], params, settings.max_raw_points),
        from_memory=params.precision is None,
    )
    page = pages[0][1]
    return _answer(request, _data(page, spec, None), page.next_start)


@router.delete(
    "/timeseries/{uuid}/data",
    operation_id="v2_delete_data",
    summary="Delete points of a time series",
    status_code=204,
)
def delete_data(
    caller: V2Caller,
    store: StoreDep,
    uuid: UUID,
    start: Annotated[str | None, Query(description="RFC 3339, inclusive.")] = None,
    end: Annotated[str | None, Query(description="RFC 3339, exclusive.")] = None,
    ge: Annotated[float | None, Query(description="Only values >= ge.")] = None,
    le: Annotated[float | None, Query(description="Only values <= le.")] = None,
) -> Response:
    """Delete the points in ``[start, end)`` (open ends: everything) that pass ge/le."""
    require(caller, WRITE)
    tz = zone(caller.domain.timezone)
    span = TimeRange(_instant(start, tz, "start"), _instant(end, tz, "end"))
    with store.write() as session:
        series = get_series(session, caller, uuid)
        session.delete_points(series.sid, span, ValueFilter(ge, le))
    return Response(status_code=204)


def _uuids(text: str, most: int) -> list[UUID]:
    parts = list(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    if not parts:
        raise InvalidRequest("give at least one time series UUID", param="uuids")
    if len(parts) > most:
        raise InvalidRequest(
            f"{len(parts)} time series asked for; the limit is {most} a query "
            "(WATTBASE_MAX_TSQUERY_SERIES)",
            param="uuids",
        )
    try:
        return [UUID(p) for p in parts]
    except ValueError:
        raise InvalidRequest("uuids must be comma-separated UUIDs", param="uuids") from None


@router.get(
    "/tsquery",
    operation_id="v2_tsquery",
    summary="Read several time series at once",
    openapi_extra={"parameters": parameters(ReadParams)},
)
async def tsquery(
    request: Request,
    caller: V2Caller,
    store: StoreDep,
    settings: SettingsDep,
    params: ReadQuery,
    uuids: Annotated[
        str, Query(description="Comma-separated; at most WATTBASE_MAX_TSQUERY_SERIES (100).")
    ],
) -> Response:
    """``[{uuid, data: [{v, ts}]}]`` with the parameters of a single series' read."""
    wanted = _uuids(uuids, settings.max_tsquery_series)
    pages, spec = await answer_read(
        store,
        lambda opener: _read(opener, caller, wanted, params, settings.max_raw_points),
        from_memory=params.precision is None,
    )
    stop = min((p.next_start for _, p in pages if p.next_start is not None), default=None)
    body = [{"uuid": str(s.uuid), "data": _data(p, spec, stop)} for s, p in pages]
    return _answer(request, body, stop)
