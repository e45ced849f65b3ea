"""What storage tests set up in a session before they write points."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from wattbase.model.tenancy import Domain
from wattbase.model.things import Series, Thing
from wattbase.storage.base import Session


def new_series(session: Session, domain: str = "d") -> Series:
    """A domain, a thing in it and one series of that thing, stored in ``session``."""
    session.put_domain(Domain(domain))
    thing = Thing(uuid4(), domain, 1, "meter", "default", datetime.now(UTC))
    session.put_thing(thing)
    series = Series(uuid4(), session.next_sid(), domain, thing.uuid, "p", datetime.now(UTC))
    session.put_series(series)
    return series
