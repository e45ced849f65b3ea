"""Apollo devices: things with a ``device_id``, whose points are their time series."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from uuid import UUID

from wattbase.core.access import READ, WRITE, require, visible
from wattbase.core.series import series_on
from wattbase.core.things import ThingDraft, create_thing
from wattbase.core.writes import ByUuid, PointsIn, SeriesReport, write_points
from wattbase.errors import Conflict, Forbidden, InvalidRequest, NotFound
from wattbase.model.points import Micros, Values, WriteMode
from wattbase.model.tenancy import DEFAULT_COLLECTION, Caller, Scope
from wattbase.model.things import Series, Thing
from wattbase.storage.base import Session, Store

APOLLO_READ = frozenset({Scope.READ, Scope.APOLLO_READ})
APOLLO_WRITE = frozenset({Scope.WRITE, Scope.APOLLO_WRITE})
DEVICE = "device"
TYPE_TAG = "deviceType="


def apollo_caller(caller: Caller, collection: str | None) -> Caller:
    """The caller as the engines see it: ``apollo_read``/``apollo_write`` count as
    ``read``/``write``, and an ``erCollectionId`` narrows it to that one collection."""
    scopes = set(caller.scopes)
    if Scope.APOLLO_READ in scopes:
        scopes |= READ
    if Scope.APOLLO_WRITE in scopes:
        scopes |= WRITE
    collections = caller.collections
    if collection is not None:
        if not caller.sees_collection(collection):
            raise Forbidden(
                f"this key may not use collection '{collection}'", param="erCollectionId"
            )
        collections = frozenset({collection})
    return replace(caller, scopes=frozenset(scopes), collections=collections)


def device_type(thing: Thing) -> str | None:
    return next((t[len(TYPE_TAG) :] for t in thing.tags if t.startswith(TYPE_TAG)), None)


def find_device(session: Session, caller: Caller, device_id: str) -> Thing:
    """The device, 404 when the domain has none, 403 when it lies outside the collections."""
    thing = session.find_thing(caller.domain.name, device_id=device_id)
    if thing is None:
        raise NotFound(f"device '{device_id}' not found", param="deviceId")
    if not visible(caller, thing):
        raise Forbidden("User does not have access to device", param="deviceId")
    return thing


def create_device(
    store: Store, caller: Caller, device_id: str, kind: str | None, collection: str | None
) -> Thing:
    """A new device in ``collection`` (default: the domain's default); 409 if it exists."""
    require(caller, WRITE)
    if not device_id.strip():
        raise InvalidRequest("a device needs an id", param="id")
    with store.read() as session:
        if session.find_thing(caller.domain.name, device_id=device_id) is not None:
            find_device(session, caller, device_id)
            raise Conflict(f"device '{device_id}' exists already", param="id")
    # Thing names need three characters; short device ids still make valid devices.
    name = device_id if len(device_id.strip()) >= 3 else f"device {device_id}"
    draft = ThingDraft(
        name=name,
        type=DEVICE,
        tags=() if kind is None else (TYPE_TAG + kind,),
        device_id=device_id,
        collection=collection or DEFAULT_COLLECTION,
    )
    return create_thing(store, caller, draft)


@dataclass(frozen=True, slots=True)
class PointDraft:
    point_id: str
    point_type: str | None


def attach_points(
    store: Store,
    caller: Caller,
    device_id: str,
    points: Sequence[PointDraft],
    collection: str | None,
) -> tuple[Thing, list[Series]]:
    """The series of each point, made where missing; an unknown device is created first."""
    require(caller, WRITE)
    if not points:
        raise InvalidRequest("No points provided")
    for i, point in enumerate(points):
        if not point.point_id.strip():
            raise InvalidRequest("a point needs an id", param=f"[{i}].id")
    with store.read() as session:
        known = session.find_thing(caller.domain.name, device_id=device_id)
    if known is None:
        try:
            create_device(store, caller, device_id, None, collection)
        except Conflict:
            pass  # made by a concurrent request in between: use it
    with store.write() as session:
        thing = find_device(session, caller, device_id)
        made = [
            series_on(session, caller, thing, p.point_id, create=True, point_type=p.point_type)
            for p in points
        ]
    return thing, [s for s in made if s is not None]


def point_of(session: Session, caller: Caller, thing: Thing, uuid: UUID, param: str) -> Series:
    """A series of this device; any other series is 404, whoever owns it."""
    series = session.get_series(caller.domain.name, uuid)
    if series is None or series.thing_uuid != thing.uuid:
        raise NotFound(f"timeseries {uuid} is not on this device", param=param)
    return series


def get_point(store: Store, caller: Caller, device_id: str, uuid: UUID) -> tuple[Thing, Series]:
    require(caller, READ)
    with store.read() as session:
        thing = find_device(session, caller, device_id)
        return thing, point_of(session, caller, thing, uuid, "timeseriesId")


@dataclass(frozen=True, slots=True)
class SamplesIn:
    """Decoded samples for one series of a device; ``place`` names them in errors."""

    uuid: UUID
    ts: Micros
    v: Values
    place: str


def write_samples(
    store: Store, caller: Caller, device_id: str, samples: Sequence[SamplesIn], mode: WriteMode
) -> list[SeriesReport]:
    """Samples of this device's series, through the one write engine."""
    require(caller, WRITE)
    if not samples:
        raise InvalidRequest("No samples provided")
    with store.read() as session:
        thing = find_device(session, caller, device_id)
        for s in samples:
            point_of(session, caller, thing, s.uuid, f"{s.place}.timeseriesId")
    batches = [PointsIn(ByUuid(s.uuid), s.ts, s.v, s.place) for s in samples]
    return write_points(store, caller, batches, mode)
