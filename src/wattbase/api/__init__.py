"""The HTTP faces: v1, v2 and apollo over one core. ``create_app`` builds the server."""

from __future__ import annotations

from wattbase.api.app import create_app

__all__ = ["create_app"]
