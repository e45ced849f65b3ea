"""Lookups of keys, things and series see exactly what is committed (and, inside a write,
what that write changed), however often they were asked before: backends may cache them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from tests.conftest import Tenant
from wattbase.core.access import hash_secret
from wattbase.core.demo import DEMO_DOMAIN, DEMO_SECRET
from wattbase.model.things import Series, Thing
from wattbase.storage.base import Store


class Boom(Exception):
    pass


def _thing(name: str) -> Thing:
    return Thing(uuid4(), DEMO_DOMAIN, 900, name, "default", datetime.now(UTC))


def _demo_meter(store: Store) -> Thing:
    """The demo domain's node 1, as a read finds it (and the store may cache it)."""
    with store.read() as session:
        thing = session.find_thing(DEMO_DOMAIN, node_id=1)
    assert thing is not None
    return thing


def test_a_rolled_back_thing_is_not_found_afterwards(store: Store, demo: Tenant) -> None:
    thing = _thing("ghost")
    with pytest.raises(Boom), store.write() as session:
        session.put_thing(thing)
        assert session.get_thing(DEMO_DOMAIN, thing.uuid) == thing
        assert session.find_thing(DEMO_DOMAIN, node_id=900) == thing
        raise Boom
    with store.read() as session:
        assert session.get_thing(DEMO_DOMAIN, thing.uuid) is None
        assert session.find_thing(DEMO_DOMAIN, node_id=900) is None


def test_a_committed_change_replaces_what_was_read_before(store: Store, demo: Tenant) -> None:
    thing = _thing("before")
    with store.write() as session:
        session.put_thing(thing)
    with store.read() as session:
        assert session.get_thing(DEMO_DOMAIN, thing.uuid) == thing
        found = session.find_key(hash_secret(DEMO_SECRET))
        assert found is not None and found[0].revoked is None
    renamed = replace(thing, name="after")
    with store.write() as session:
        # The write sees the committed row first, then its own change.
        assert session.get_thing(DEMO_DOMAIN, thing.uuid) == thing
        session.put_thing(renamed)
        assert session.get_thing(DEMO_DOMAIN, thing.uuid) == renamed
        assert session.revoke_key(DEMO_DOMAIN, found[0].uuid, datetime.now(UTC))
    with store.read() as session:
        assert session.get_thing(DEMO_DOMAIN, thing.uuid) == renamed
        assert session.find_thing(DEMO_DOMAIN, node_id=900) == renamed
        again = session.find_key(hash_secret(DEMO_SECRET))
        assert again is not None and again[0].revoked is not None


def test_a_rolled_back_delete_keeps_the_series(store: Store, demo: Tenant) -> None:
    thing = _demo_meter(store)
    with store.write() as session:
        sid = session.next_sid()
        series = Series(uuid4(), sid, DEMO_DOMAIN, thing.uuid, "kept", datetime.now(UTC))
        session.put_series(series)
    with store.read() as session:
        assert session.find_series(DEMO_DOMAIN, thing.uuid, "kept") == series
    with pytest.raises(Boom), store.write() as session:
        session.delete_series(DEMO_DOMAIN, series.uuid)
        assert session.get_series(DEMO_DOMAIN, series.uuid) is None
        assert session.find_series(DEMO_DOMAIN, thing.uuid, "kept") is None
        raise Boom
    with store.read() as session:
        assert session.get_series(DEMO_DOMAIN, series.uuid) == series
    with store.write() as session:
        session.delete_series(DEMO_DOMAIN, series.uuid)
    with store.read() as session:
        assert session.get_series(DEMO_DOMAIN, series.uuid) is None
        assert session.find_series(DEMO_DOMAIN, thing.uuid, "kept") is None


def test_a_rolled_back_new_series_is_not_found_afterwards(store: Store, demo: Tenant) -> None:
    thing = _demo_meter(store)
    with pytest.raises(Boom), store.write() as session:
        ghost = Series(uuid4(), session.next_sid(), DEMO_DOMAIN, thing.uuid, "g", datetime.now(UTC))
        session.put_series(ghost)
        assert session.get_series(DEMO_DOMAIN, ghost.uuid) == ghost
        assert session.find_thing(DEMO_DOMAIN, node_id=1) == thing
        raise Boom
    with store.read() as session:
        assert session.get_series(DEMO_DOMAIN, ghost.uuid) is None
        assert session.find_series(DEMO_DOMAIN, thing.uuid, "g") is None


def test_a_new_series_is_found_by_the_next_lookup(store: Store, demo: Tenant) -> None:
    thing = _demo_meter(store)
    made = []
    for name in ("first", "second"):
        with store.write() as session:
            assert session.find_series(DEMO_DOMAIN, thing.uuid, name) is None
            series = Series(
                uuid4(), session.next_sid(), DEMO_DOMAIN, thing.uuid, name, datetime.now(UTC)
            )
            session.put_series(series)
            made.append(series)
        with store.read() as session:
            for earlier in made:
                assert session.find_series(DEMO_DOMAIN, thing.uuid, earlier.name) == earlier
                assert session.get_series(DEMO_DOMAIN, earlier.uuid) == earlier
    renamed = replace(made[0], name="renamed")
    with store.write() as session:
        session.put_series(renamed)
    with store.read() as session:
        assert session.find_series(DEMO_DOMAIN, thing.uuid, "first") is None
        assert session.get_series(DEMO_DOMAIN, renamed.uuid) == renamed


def test_writes_see_committed_series_names_only(store: Store, demo: Tenant) -> None:
    """The writer's own lookups (a write may keep whole listings of a thing's series)."""
    thing = _demo_meter(store)

    def made(name: str) -> Series:
        return Series(uuid4(), 0, DEMO_DOMAIN, thing.uuid, name, datetime.now(UTC))

    with store.write() as session:
        assert session.find_series(DEMO_DOMAIN, thing.uuid, "kept") is None
        kept = replace(made("kept"), sid=session.next_sid())
        session.put_series(kept)
        assert session.find_series(DEMO_DOMAIN, thing.uuid, "kept") == kept
    with pytest.raises(Boom), store.write() as session:
        assert session.find_series(DEMO_DOMAIN, thing.uuid, "ghost") is None
        ghost = replace(made("ghost"), sid=session.next_sid())
        session.put_series(ghost)
        assert session.find_series(DEMO_DOMAIN, thing.uuid, "ghost") == ghost
        raise Boom
    with store.write() as session:
        assert session.find_series(DEMO_DOMAIN, thing.uuid, "ghost") is None
        assert session.find_series(DEMO_DOMAIN, thing.uuid, "kept") == kept
        renamed = replace(kept, name="renamed")
        session.put_series(renamed)
        assert session.find_series(DEMO_DOMAIN, thing.uuid, "kept") is None
    with store.write() as session:
        assert session.find_series(DEMO_DOMAIN, thing.uuid, "kept") is None
        assert session.find_series(DEMO_DOMAIN, thing.uuid, "renamed") == renamed
        session.delete_series(DEMO_DOMAIN, renamed.uuid)
    # After that delete, the next write loads the thing's listing afresh: here with a row
    # of its own in it, which must not outlive the rollback.
    with pytest.raises(Boom), store.write() as session:
        ghost = replace(made("ghost"), sid=session.next_sid())
        session.put_series(ghost)
        assert session.find_series(DEMO_DOMAIN, thing.uuid, "other") is None
        assert session.find_series(DEMO_DOMAIN, thing.uuid, "ghost") == ghost
        raise Boom
    with store.write() as session:
        assert session.find_series(DEMO_DOMAIN, thing.uuid, "renamed") is None
        assert session.find_series(DEMO_DOMAIN, thing.uuid, "ghost") is None
