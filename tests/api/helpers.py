"""Test helpers for the API tests: a full snapshot of what a domain stores."""

from __future__ import annotations

from wattbase.model.query import TimeRange, ValueFilter
from wattbase.model.things import SeriesFilter
from wattbase.storage.base import Store

EVERYTHING = 1 << 62


def snapshot(store: Store, domain: str) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """Every series of ``domain`` (by thing and name) with every point it holds."""
    with store.read() as session:
        found = session.list_series(domain, SeriesFilter(limit=EVERYTHING))
        out = {}
        for s in found:
            ts, v = session.read_points(s.sid, TimeRange(), ValueFilter(), EVERYTHING)
            out[(str(s.thing_uuid), s.name)] = list(zip(ts.tolist(), v.tolist(), strict=True))
    return out
