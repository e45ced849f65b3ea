"""Compaction: give back the disk space that overwritten and deleted points left behind.

Only the embedded store needs it (see ``storage.embedded_compact``). PostgreSQL reuses the
space of rewritten blocks by itself; ``VACUUM FULL`` gives it back to the disk.
"""

from __future__ import annotations

from wattbase.config import Settings
from wattbase.errors import InvalidRequest
from wattbase.storage.embedded_compact import Compaction, compact_file

__all__ = ["Compaction", "compact"]


def compact(settings: Settings) -> Compaction:
    """Rebuild the settings' embedded store file; its server must be stopped."""
    if settings.database_url:
        raise InvalidRequest(
            "compact is for the embedded store; PostgreSQL reuses freed space by itself "
            "(VACUUM FULL gives it back to the disk)",
            param="database_url",
        )
    return compact_file(settings.embedded_path)
