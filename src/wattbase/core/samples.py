"""Apollo sample reads: several series of one device, paged by signed keyset cursors.

A cursor holds the last ``(ts, series)`` of its page and a digest of the query it belongs
to, signed by the store's key: a cursor that was forged, altered or made for another query
is refused, and resuming after a keyset returns every sample exactly once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from uuid import UUID

import numpy as np

from wattbase.core.access import READ, require
from wattbase.core.devices import find_device, point_of
from wattbase.core.reads import read_many
from wattbase.core.tokens import seal, unseal
from wattbase.errors import InvalidRequest
from wattbase.model.points import Micros, Values
from wattbase.model.query import TimeRange
from wattbase.model.tenancy import Caller
from wattbase.model.things import Thing
from wattbase.storage.base import Store

CURSOR = "page"
CURSOR_PARAM = "ContinuationToken"


@dataclass(frozen=True, slots=True)
class SampleQuery:
    device_id: str
    series: tuple[UUID, ...]
    span: TimeRange
    descending: bool
    limit: int


@dataclass(frozen=True, slots=True)
class SamplePage:
    ts: Micros
    v: Values
    series: list[UUID]
    total: int
    cursor: str | None


def _digest(thing: Thing, query: SampleQuery) -> str:
    shape = [
        str(thing.uuid),
        sorted(str(u) for u in query.series),
        query.span.start,
        query.span.end,
        query.descending,
    ]
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:32]


def _resume(store: Store, cursor: str, digest: str, sids: dict[str, int]) -> tuple[int, int]:
    payload = unseal(store, CURSOR, cursor)
    try:
        if payload is None or payload["q"] != digest:
            raise ValueError
        return int(payload["t"]), sids[payload["s"]]
    except (KeyError, TypeError, ValueError):
        raise InvalidRequest(
            "the continuation token was not issued for this query", param=CURSOR_PARAM
        ) from None


def read_samples(
    store: Store, caller: Caller, query: SampleQuery, cursor: str | None
) -> SamplePage:
    """One page of samples in ``(timestamp, series)`` order, and the cursor to the next."""
    require(caller, READ)
    if not query.series:
        raise InvalidRequest("No timeseries ids provided", param="timeseries_ids")
    with store.read() as session:
        thing = find_device(session, caller, query.device_id)
        chosen = [point_of(session, caller, thing, u, "timeseries_ids") for u in query.series]
        digest = _digest(thing, query)
        sids = {str(s.uuid): s.sid for s in chosen}
        after = None if cursor is None else _resume(store, cursor, digest, sids)
        page = read_many(
            session, chosen, query.span, query.limit, descending=query.descending, after=after
        )
        total = session.count_points_many([s.sid for s in chosen], query.span)
    by_sid = {s.sid: s.uuid for s in chosen}
    series = [by_sid[int(sid)] for sid in page.sid]
    following = None
    if page.more and len(page.ts):
        last = {"q": digest, "t": int(page.ts[-1]), "s": str(series[-1])}
        following = seal(store, CURSOR, last)
    return SamplePage(np.asarray(page.ts), np.asarray(page.v), series, total, following)
