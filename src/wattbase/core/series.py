"""Time series: found by UUID or by (thing, name), created on first write where a face allows."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from wattbase.core.access import READ, WRITE, require, visible
from wattbase.core.changes import check_changes
from wattbase.core.things import get_thing
from wattbase.errors import Conflict, InvalidRequest, NotFound
from wattbase.model.tenancy import Caller
from wattbase.model.things import Series, SeriesFilter, Thing
from wattbase.storage.base import Session, Store

UPDATABLE = frozenset({"name", "si_unit", "lower_bound", "upper_bound", "tags", "point_type"})


@dataclass(frozen=True, slots=True)
class SeriesDraft:
    name: str
    si_unit: str | None = None
    lower_bound: float | None = None
    upper_bound: float | None = None
    tags: tuple[str, ...] = ()
    point_type: str | None = None


def _check_bounds(lower: float | None, upper: float | None) -> None:
    for name, bound in (("lower_bound", lower), ("upper_bound", upper)):
        if bound is not None and not math.isfinite(bound):
            raise InvalidRequest(f"{name} must be a finite number", param=name)
    if lower is not None and upper is not None and lower > upper:
        raise InvalidRequest("lower_bound is above upper_bound", param="lower_bound")


def _check_name(name: str) -> None:
    if not name.strip():
        raise InvalidRequest("a time series needs a name", param="name")


def get_series(session: Session, caller: Caller, uuid: UUID, param: str = "uuid") -> Series:
    series = session.get_series(caller.domain.name, uuid)
    if series is not None:
        thing = session.get_thing(caller.domain.name, series.thing_uuid)
        if thing is not None and visible(caller, thing):
            return series
    raise NotFound(f"no time series {uuid}", param=param)


def series_on(
    session: Session,
    caller: Caller,
    thing: Thing,
    name: str,
    *,
    create: bool,
    point_type: str | None = None,
) -> Series | None:
    """The series ``name`` of ``thing``; made on the spot when ``create`` (a write session)."""
    found = session.find_series(caller.domain.name, thing.uuid, name)
    if found is not None or not create:
        return found
    _check_name(name)
    series = Series(
        uuid=uuid4(),
        sid=session.next_sid(),
        domain=caller.domain.name,
        thing_uuid=thing.uuid,
        name=name,
        created=datetime.now(UTC),
        point_type=point_type,
        created_by=caller.key.uuid,
    )
    session.put_series(series)
    return series


def create_series(store: Store, caller: Caller, thing_uuid: UUID, draft: SeriesDraft) -> Series:
    require(caller, WRITE)
    _check_name(draft.name)
    _check_bounds(draft.lower_bound, draft.upper_bound)
    with store.write() as session:
        thing = get_thing(session, caller, thing_uuid)
        if session.find_series(caller.domain.name, thing.uuid, draft.name) is not None:
            raise Conflict(f"thing {thing_uuid} has a series named '{draft.name}'", param="name")
        series = Series(
            uuid=uuid4(),
            sid=session.next_sid(),
            domain=caller.domain.name,
            thing_uuid=thing.uuid,
            name=draft.name,
            created=datetime.now(UTC),
            si_unit=draft.si_unit,
            lower_bound=draft.lower_bound,
            upper_bound=draft.upper_bound,
            tags=draft.tags,
            point_type=draft.point_type,
            created_by=caller.key.uuid,
        )
        session.put_series(series)
    return series


def update_series(store: Store, caller: Caller, uuid: UUID, changes: dict[str, Any]) -> Series:
    require(caller, WRITE)
    check_changes(changes, UPDATABLE)
    with store.write() as session:
        series = get_series(session, caller, uuid)
        if "tags" in changes:
            changes = {**changes, "tags": tuple(changes["tags"])}
        updated = replace(series, **changes)
        _check_name(updated.name)
        _check_bounds(updated.lower_bound, updated.upper_bound)
        if updated.name != series.name:
            clash = session.find_series(caller.domain.name, series.thing_uuid, updated.name)
            if clash is not None:
                raise Conflict(f"the thing has a series named '{updated.name}'", param="name")
        session.put_series(updated)
    return updated


def delete_series(store: Store, caller: Caller, uuid: UUID) -> None:
    require(caller, WRITE)
    with store.write() as session:
        get_series(session, caller, uuid)
        session.delete_series(caller.domain.name, uuid)


def list_series(store: Store, caller: Caller, where: SeriesFilter) -> list[Series]:
    require(caller, READ)
    with store.read() as session:
        if where.thing_uuid is not None:
            get_thing(session, caller, where.thing_uuid)
        return session.list_series(
            caller.domain.name, replace(where, collections=caller.collections)
        )
