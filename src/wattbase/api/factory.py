"""The app factory uvicorn's worker processes call: everything from the environment.

``wattbase serve --workers N`` cannot hand an app object to N processes, so each worker
imports this module and builds its own app (and its own connection pool) from the same
``WATTBASE_*`` variables the parent read.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from wattbase.api.app import create_app
from wattbase.api.logs import configure
from wattbase.config import Settings

# Set by ``wattbase serve --demo`` for its workers; not a setting users are meant to set.
DEMO_ENV = "WATTBASE_SERVE_DEMO"


def app_from_env() -> FastAPI:
    settings = Settings()
    configure(settings.log_level)
    return create_app(settings, demo=os.environ.get(DEMO_ENV) == "1")
