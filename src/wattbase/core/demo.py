"""The demo domain of ``wattbase serve --demo``: known secret, known things. Never in production."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from uuid import UUID

from wattbase.core.access import hash_secret
from wattbase.model.tenancy import ALL_SCOPES, DEFAULT_COLLECTION, ApiKey, Domain
from wattbase.model.things import Thing
from wattbase.storage.base import Store

DEMO_DOMAIN = "demo"
DEMO_SECRET = "demo-secret"
DEMO_KEY = UUID("00000000-0000-4000-8000-00000000d3e0")
DEMO_THINGS = (
    (1, UUID("6f1c2a4e-0001-4c1d-9e7a-000000000001"), "Demo building"),
    (2, UUID("6f1c2a4e-0002-4c1d-9e7a-000000000002"), "Demo substation"),
    (3, UUID("12345678-1234-1234-1234-123456789012"), "Demo weather station"),
)
log = logging.getLogger("wattbase.demo")


def ensure_demo(store: Store) -> None:
    """Create the demo domain, its all-scopes key ``demo-secret`` and three things, once."""
    now = datetime.now(UTC)
    with store.write() as session:
        if session.get_domain(DEMO_DOMAIN) is None:
            session.put_domain(Domain(name=DEMO_DOMAIN, timezone="Europe/Stockholm"))
        if session.find_key(hash_secret(DEMO_SECRET)) is None:
            key = ApiKey(DEMO_KEY, DEMO_DOMAIN, "demo", ALL_SCOPES, created=now)
            session.put_key(key, hash_secret(DEMO_SECRET))
        for node_id, uuid, name in DEMO_THINGS:
            if session.get_thing(DEMO_DOMAIN, uuid) is None:
                session.put_thing(
                    Thing(uuid, DEMO_DOMAIN, node_id, name, DEFAULT_COLLECTION, now, tags=("demo",))
                )
    log.warning(
        "DEMO MODE: domain %r accepts the published secret %r with every scope. "
        "Never expose this server; run 'wattbase serve' without --demo for real use.",
        DEMO_DOMAIN,
        DEMO_SECRET,
    )
