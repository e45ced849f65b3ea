"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from wattbase.api.deps import StoreDep
from wattbase.api.openapi import errors

# The request line and headers are checked before routing, on every path (api/protocol.py).
router = APIRouter(tags=["health"], responses=errors("v1", 431))


@router.get(
    "/healthz", operation_id="get_health", summary="Is the server up and its store answering?"
)
async def get_health(store: StoreDep) -> dict[str, str]:
    def ping() -> None:
        with store.read() as session:
            session.get_domain("")

    await run_in_threadpool(ping)
    return {"status": "ok"}
