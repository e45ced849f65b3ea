"""EnergyView API v2 time series (the objects, not their points): ``/api/v2/timeseries``."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from wattbase.api.deps import StoreDep, V2Caller
from wattbase.api.openapi import COMMON, MAX_OFFSET, errors
from wattbase.core import series as series_core
from wattbase.core.access import READ, require
from wattbase.errors import InvalidRequest
from wattbase.model.things import Series, SeriesFilter

router = APIRouter(prefix="/api/v2", tags=["v2 time series"], responses=errors("v2", *COMMON))
READ_ONLY = ("uuid", "id", "created_by", "thing_uuid")


def split_tags(text: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in (text or "").split(",") if t.strip())


class SeriesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thing_uuid: UUID = Field(description="The thing the series belongs to.")
    name: str = Field(min_length=1)
    si_unit: str | None = Field(None, description="E.g. kWh, °C, m³/h; used by unit=.")
    lower_bound: float | None = Field(None, description="Smaller values are not stored.")
    upper_bound: float | None = Field(None, description="Larger values are not stored.")
    tags: list[str] = Field(default_factory=list)
    point_type: str | None = None


class SeriesChange(BaseModel):
    """The fields to change. Changing ``si_unit`` relabels the stored values; it does not
    convert them."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1)
    si_unit: str | None = None
    lower_bound: float | None = None
    upper_bound: float | None = None
    tags: list[str] | None = None
    point_type: str | None = None
    uuid: UUID | None = Field(None, description="Read-only; if sent, must be this series'.")
    id: UUID | None = Field(None, description="Read-only; if sent, must be this series'.")
    thing_uuid: UUID | None = Field(None, description="Read-only; if sent, must be unchanged.")
    created_by: UUID | None = Field(None, description="Read-only; ignored.")


class SeriesOut(BaseModel):
    uuid: UUID
    id: UUID = Field(description="The same as uuid.")
    thing_uuid: UUID
    created_by: UUID | None
    name: str
    si_unit: str | None
    lower_bound: float | None
    upper_bound: float | None
    tags: list[str]
    point_type: str | None


def series_out(series: Series) -> SeriesOut:
    return SeriesOut(
        uuid=series.uuid,
        id=series.uuid,
        thing_uuid=series.thing_uuid,
        created_by=series.created_by,
        name=series.name,
        si_unit=series.si_unit,
        lower_bound=series.lower_bound,
        upper_bound=series.upper_bound,
        tags=list(series.tags),
        point_type=series.point_type,
    )


@router.get("/timeseries", operation_id="v2_list_timeseries", summary="List time series")
def list_timeseries(
    caller: V2Caller,
    store: StoreDep,
    tags: Annotated[str | None, Query(description="Comma-separated; all must match.")] = None,
    thing_uuid: Annotated[UUID | None, Query(description="Only this thing's.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[SeriesOut]:
    """Time series this key may see, in creation order."""
    where = SeriesFilter(tags=split_tags(tags), thing_uuid=thing_uuid, limit=limit, offset=offset)
    return [series_out(s) for s in series_core.list_series(store, caller, where)]


@router.post(
    "/timeseries",
    operation_id="v2_create_timeseries",
    summary="Create a time series",
    status_code=201,
    responses=errors("v2", 409),
)
def create_timeseries(caller: V2Caller, store: StoreDep, series: SeriesIn) -> SeriesOut:
    """Create a time series on a thing; its name is unique on that thing (409)."""
    draft = series_core.SeriesDraft(
        name=series.name,
        si_unit=series.si_unit,
        lower_bound=series.lower_bound,
        upper_bound=series.upper_bound,
        tags=tuple(series.tags),
        point_type=series.point_type,
    )
    return series_out(series_core.create_series(store, caller, series.thing_uuid, draft))


@router.get("/timeseries/{uuid}", operation_id="v2_get_timeseries", summary="Get a time series")
def get_timeseries(caller: V2Caller, store: StoreDep, uuid: UUID) -> SeriesOut:
    """One time series."""
    require(caller, READ)
    with store.read() as session:
        return series_out(series_core.get_series(session, caller, uuid))


@router.put(
    "/timeseries/{uuid}",
    operation_id="v2_update_timeseries",
    summary="Change a time series",
    responses=errors("v2", 409),
)
def update_timeseries(
    caller: V2Caller, store: StoreDep, uuid: UUID, change: SeriesChange
) -> SeriesOut:
    """Change the fields sent. A series stays on its thing."""
    changes: dict[str, Any] = change.model_dump(exclude_unset=True)
    for name in ("uuid", "id"):
        if changes.get(name, uuid) != uuid:
            raise InvalidRequest(f"{name} differs from the series' in the path", param=name)
    if "thing_uuid" in changes:
        require(caller, READ)
        with store.read() as session:
            current = series_core.get_series(session, caller, uuid)
        if changes["thing_uuid"] != current.thing_uuid:
            raise InvalidRequest("a time series cannot move to another thing", param="thing_uuid")
    for name in READ_ONLY:
        changes.pop(name, None)
    if "tags" in changes and changes["tags"] is None:
        changes["tags"] = []
    if "name" in changes and changes["name"] is None:
        raise InvalidRequest("name cannot be null", param="name")
    return series_out(series_core.update_series(store, caller, uuid, changes))


@router.delete(
    "/timeseries/{uuid}",
    operation_id="v2_delete_timeseries",
    summary="Delete a time series",
    status_code=204,
)
def delete_timeseries(caller: V2Caller, store: StoreDep, uuid: UUID) -> Response:
    """Delete a time series and all of its points."""
    series_core.delete_series(store, caller, uuid)
    return Response(status_code=204)
