"""``create_app``: routes, error handlers and the store's lifespan, in one place."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from wattbase import __version__
from wattbase.api import (
    admin,
    apollo,
    errors,
    health,
    oauth,
    text,
    v1,
    v2_data,
    v2_datasets,
    v2_series,
    v2_things,
)
from wattbase.api.correlation import CorrelationId
from wattbase.api.dataset_uploads import body_limit
from wattbase.api.json_depth import JsonDepth
from wattbase.api.limits import BodyLimit, RateHeaders, ReadTimeout
from wattbase.api.openapi import describe
from wattbase.config import Settings
from wattbase.core.demo import ensure_demo
from wattbase.core.ratelimit import Rate, RateControl
from wattbase.storage import open_store
from wattbase.storage.base import Store

DESCRIPTION = """
wattbase keeps energy time series (meters, sensors, buildings, district heating) and serves
them through the EnergyView API v1 (`/{domain}/api/v1`, `Authorization: Key <secret>`),
API v2 (`/api/v2`, Basic `domain:secret`) and an apollo-style device API (`/apollo`, Bearer).

Errors on v1 and v2 share one body: `{"error", "code", "type", "param"}`, where `param`
names the offending place, e.g. `[0].data[17].ts`. Requests are atomic.
"""


# Answer headers a browser script may read when CORS is on.
EXPOSED_HEADERS = [
    "Link",
    "ETag",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "x-correlation-id",
]


def create_app(
    settings: Settings | None = None, *, demo: bool = False, store: Store | None = None
) -> FastAPI:
    """The ASGI app. The store opens on startup (unless given) and closes on shutdown."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # DuckDB's Python client takes the GIL for every task of every query, to check
        # for Ctrl-C. While request threads keep the GIL busy, each take waits out the
        # switch interval: at Python's 5 ms, a 100-point insert took 85 ms beside two busy
        # threads, and 3 ms at 50 us.
        before = sys.getswitchinterval()
        sys.setswitchinterval(settings.switch_interval_us / 1e6)
        owned = store is None
        app.state.store = store if store is not None else open_store(settings)
        if demo:
            ensure_demo(app.state.store)
        try:
            yield
        finally:
            sys.setswitchinterval(before)
            if owned:
                app.state.store.close()

    app = FastAPI(
        title="wattbase",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.clock = time.time  # tests move token expiry by replacing it
    app.state.rates = RateControl(
        Rate(settings.rate_per_second, settings.rate_burst),
        Rate(settings.auth_failures_per_second, settings.auth_failures_burst),
    )
    errors.install(app)
    app.add_middleware(JsonDepth, limit=settings.max_json_depth)
    app.add_middleware(ReadTimeout, seconds=settings.body_timeout_seconds)
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        paths={"/api/v2/datasets": (body_limit(settings), "WATTBASE_MAX_DATASET_BYTES")},
    )
    app.add_middleware(RateHeaders)
    text.install(app)
    app.include_router(health.router)
    app.include_router(v1.router)
    app.include_router(oauth.router)
    app.include_router(apollo.router)
    app.include_router(v2_things.router)
    app.include_router(v2_series.router)
    app.include_router(v2_data.router)
    app.include_router(v2_datasets.router)
    app.include_router(admin.router)
    # Added last, so it wraps the others and every answer carries the id.
    app.add_middleware(CorrelationId)
    if settings.cors_origin_list:
        # Off unless configured: browsers then refuse cross-origin calls, as they should
        # for an API that holds credentials. Outermost, so preflights skip authentication.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["*"],
            expose_headers=EXPOSED_HEADERS,
        )
    describe(app)
    return app
