"""``/openapi.json`` describes every route the app serves."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

# FastAPI's own pages are not part of the API.
OWN_PAGES = {"/openapi.json", "/docs", "/docs/oauth2-redirect"}


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every route with its full path, also inside routers that FastAPI includes lazily."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes, prefix + route.include_context.prefix)
        else:
            yield prefix + route.path, route


def test_every_route_is_described(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    app_routes = list(_routes(client.app.routes))  # type: ignore[attr-defined]
    operations = []
    for path, route in app_routes:
        if path in OWN_PAGES:
            continue
        assert isinstance(route, APIRoute), f"{path} is not an API route"
        assert path in spec["paths"], path
        for method in route.methods - {"HEAD"}:
            operation = spec["paths"][path].get(method.lower())
            where = f"{method} {path}"
            assert operation is not None, where
            assert operation.get("operationId"), where
            assert operation.get("summary"), where
            operations.append(operation["operationId"])
    v1 = {"read_timeseries", "write_timeseries", "list_nodes", "create_node", "get_node"}
    assert {f"v1_{name}" for name in v1} | {"v1_update_node", "v1_delete_node"} <= set(operations)
    assert [o for o, n in Counter(operations).items() if n > 1] == []
    # Nothing in the spec that the app does not serve.
    served = {path for path, _ in app_routes}
    assert set(spec["paths"]) <= served


def test_every_operation_documents_the_limit_answers(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            where = f"{method} {path}"
            answers = operation["responses"]
            assert "431" in answers, where  # headers are checked on every path
            if path == "/healthz":
                continue
            for status in ("408", "413", "429"):
                assert status in answers, f"{status} on {where}"
            assert set(answers["429"]["headers"]) == {
                "Retry-After",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
            }, where
