"""Storage backends behind one narrow protocol (see ``base``)."""

from __future__ import annotations

from wattbase.config import Settings
from wattbase.storage.base import Session, Store

__all__ = ["Session", "Store", "open_store"]


def open_store(settings: Settings) -> Store:
    """Open the backend the settings select: PostgreSQL by URL, else the embedded file."""
    if settings.database_url:
        from wattbase.errors import StoreUnavailable

        raise StoreUnavailable(
            "the PostgreSQL backend is not built yet; unset WATTBASE_DATABASE_URL"
        )
    from wattbase.storage.embedded import EmbeddedStore

    return EmbeddedStore(settings.embedded_path)
