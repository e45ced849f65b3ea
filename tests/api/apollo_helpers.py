"""Small helpers for the apollo tests: getting tokens and headers."""

from __future__ import annotations

from fastapi.testclient import TestClient


def token(
    client: TestClient, secret: str, *, domain: str = "demo", scope: str | None = None
) -> str:
    form = {"grant_type": "client_credentials", "client_id": domain, "client_secret": secret}
    if scope is not None:
        form["scope"] = scope
    reply = client.post("/oauth/token", data=form)
    assert reply.status_code == 200, reply.text
    access: str = reply.json()["access_token"]
    return access


def bearer(access: str, collection: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {access}"}
    if collection is not None:
        headers["erCollectionId"] = collection
    return headers
