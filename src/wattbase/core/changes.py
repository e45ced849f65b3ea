"""Partial updates: which fields a PUT may change."""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any

from wattbase.errors import InvalidRequest


def check_changes(changes: Mapping[str, Any], allowed: Set[str]) -> None:
    """400 naming the first field that may not be changed."""
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidRequest(f"cannot change {', '.join(sorted(unknown))}", param=min(unknown))
