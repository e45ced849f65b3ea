"""Storage backends behind one narrow protocol (see ``base``)."""

from __future__ import annotations

from wattbase.config import Settings
from wattbase.storage.base import Session, Store

__all__ = ["Session", "Store", "open_store"]


def open_store(settings: Settings) -> Store:
    """Open the backend the settings select: PostgreSQL by URL, else the embedded file."""
    if settings.database_url:
        from wattbase.storage.postgres import PostgresStore

        # Uploads spool on local disk before they go into the database.
        return PostgresStore(
            settings.database_url,
            settings.data_dir / "spool",
            pool_size=settings.database_pool_size,
        )
    from wattbase.storage.embedded import EmbeddedStore

    return EmbeddedStore(settings.embedded_path, cache_points=settings.read_cache_points)
