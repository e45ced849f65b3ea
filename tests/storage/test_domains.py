"""Domains keep their own request rate (or none) through put, get and list."""

from __future__ import annotations

from wattbase.model.tenancy import Domain
from wattbase.storage.base import Store


def test_domains_round_trip_their_rate(store: Store) -> None:
    own = Domain("fast", "Europe/Oslo", rate_per_second=2.5, rate_burst=7)
    plain = Domain("plain")
    with store.write() as session:
        session.put_domain(own)
        session.put_domain(plain)
    with store.read() as session:
        assert session.get_domain("fast") == own
        assert session.get_domain("plain") == plain
        assert session.list_domains() == [own, plain]
    with store.write() as session:
        session.put_domain(Domain("fast", "Europe/Oslo"))
    with store.read() as session:
        assert session.get_domain("fast") == Domain("fast", "Europe/Oslo")
