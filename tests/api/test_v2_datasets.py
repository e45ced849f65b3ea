"""Datasets over HTTP: every format round trip, both upload forms, limits, tenancy, blobs."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from wattbase.api import create_app
from wattbase.config import Settings
from wattbase.core.access import create_key
from wattbase.errors import NotFound
from wattbase.model.tenancy import ALL_SCOPES
from wattbase.storage.base import Store
from wattbase.storage.postgres_blobs import PgBlobs

NODE3 = "12345678-1234-1234-1234-123456789012"
DOCUMENTS = {
    "csv": b'ts,flow,temp\r\n2024-01-01T00:00:00Z,1.5,"62,3"\r\n2024-01-01T01:00:00Z,1.6,61\r\n',
    "json": b'{"meter": "A-17", "factors": [1.0, 0.998, 1.002], "note": "\\u00e5 ok"}\n',
    "xml": b'<?xml version="1.0" encoding="UTF-8"?>\n<list><d id="1">Plan \xc3\xa5</d></list>',
    "yaml": b"model: heatpump\nparams:\n  cop: 3.2\n  limits: [10, 55]\n",
    "toml": b'[meter]\nid = "A-17"\nfactor = 0.998\n',
    "ini": b"[calibration]\ndate = 2024-03-01\nfactor = 0.998\n",
    "misc": bytes(range(256)) * 3,
}
CONTENT_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "xml": "application/xml",
    "yaml": "application/yaml",
    "toml": "application/toml",
    "ini": "text/plain",
    "misc": "application/octet-stream",
}
LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
    + b"".join(
        b'<!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>\n<lolz>&lol9;</lolz>\n"
)
XXE = (
    b'<?xml version="1.0"?>\n<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    b"<foo>&xxe;</foo>\n"
)


def _json_body(content: bytes, fmt: str, **extra: Any) -> dict[str, Any]:
    return {"name": f"doc.{fmt}", "format": fmt, "content": base64.b64encode(content).decode()} | (
        extra
    )


def _post(client: TestClient, tenant: Tenant, content: bytes, fmt: str, **extra: Any) -> Any:
    return client.post(
        "/api/v2/datasets", json=_json_body(content, fmt, **extra), headers=tenant.basic_header
    )


def _blobs(store: Store) -> list[str]:
    """The checksums of the blobs stored, whichever blob store the backend has."""
    if isinstance(store.blobs, PgBlobs):
        return store.blobs.checksums()
    root: Path = store.blobs.root  # type: ignore[attr-defined]
    return sorted(p.name for p in root.glob("??/*") if p.is_file())


@pytest.mark.parametrize("fmt", sorted(DOCUMENTS))
def test_every_format_round_trips_byte_for_byte(client: TestClient, demo: Tenant, fmt: str) -> None:
    content = DOCUMENTS[fmt]
    reply = _post(client, demo, content, fmt, thing_uuid=NODE3, tags=["calibration"])
    assert reply.status_code == 201, reply.text
    made = reply.json()
    assert made["size"] == len(content)
    assert made["checksum"] == hashlib.sha256(content).hexdigest()
    assert made["format"] == fmt and made["thing_uuid"] == NODE3
    assert made["created_by"] == made["updated_by"] is not None

    raw = client.get(f"/api/v2/datasets/{made['uuid']}/raw", headers=demo.basic_header)
    assert raw.status_code == 200
    assert raw.content == content
    assert raw.headers["content-type"].split(";")[0] == CONTENT_TYPES[fmt]
    assert raw.headers["etag"] == f'"{made["checksum"]}"'

    again = client.get(
        f"/api/v2/datasets/{made['uuid']}/raw",
        headers={**demo.basic_header, "If-None-Match": raw.headers["etag"]},
    )
    assert again.status_code == 304 and again.content == b""
    stale = client.get(
        f"/api/v2/datasets/{made['uuid']}/raw",
        headers={**demo.basic_header, "If-None-Match": '"' + "0" * 64 + '"'},
    )
    assert stale.status_code == 200 and stale.content == content

    one = client.get(f"/api/v2/datasets/{made['uuid']}", headers=demo.basic_header)
    assert one.json() == made


def test_multipart_upload(client: TestClient, demo: Tenant) -> None:
    content = DOCUMENTS["csv"]
    reply = client.post(
        "/api/v2/datasets",
        files={"file": ("flows.csv", content, "text/csv")},
        data={"format": "csv", "tags": "a,b", "thing_uuid": NODE3},
        headers=demo.basic_header,
    )
    assert reply.status_code == 201, reply.text
    made = reply.json()
    assert made["name"] == "flows.csv" and made["tags"] == ["a", "b"]
    assert made["checksum"] == hashlib.sha256(content).hexdigest()
    raw = client.get(f"/api/v2/datasets/{made['uuid']}/raw", headers=demo.basic_header)
    assert raw.content == content


@pytest.mark.parametrize("document", [LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_dangerous_xml_is_refused(
    client: TestClient, demo: Tenant, store: Store, document: bytes
) -> None:
    reply = _post(client, demo, document, "xml")
    assert reply.status_code == 400
    body = reply.json()
    assert body["param"] == "content" and "Entities" in body["error"]
    assert client.get("/api/v2/datasets", headers=demo.basic_header).json() == []
    assert _blobs(store) == []


@pytest.mark.parametrize(
    ("fmt", "content", "reason"),
    [
        ("json", b'{"a": [1, 2,]}', "trailing comma"),
        ("xml", b"<a><b></a>", "mismatched tag"),
        ("yaml", b"a: [1\n", "flow sequence"),
        ("yaml", b"a: !!python/object/apply:os.system [ls]\n", "python/object"),
        ("toml", b"a = \n", "Invalid value"),
        ("ini", b"key = 1\n", "no section headers"),
        ("csv", b"a,b\n1,2,3\n", "3 fields"),
    ],
)
def test_content_that_does_not_parse_is_400(
    client: TestClient, demo: Tenant, fmt: str, content: bytes, reason: str
) -> None:
    reply = _post(client, demo, content, fmt)
    assert reply.status_code == 400
    assert reply.json()["param"] == "content"
    assert reason in reply.json()["error"]


def test_bad_base64_is_400(client: TestClient, demo: Tenant, store: Store) -> None:
    body = {"name": "x", "format": "misc", "content": "not base64!!"}
    reply = client.post("/api/v2/datasets", json=body, headers=demo.basic_header)
    assert reply.status_code == 400
    assert reply.json()["param"] == "content"
    assert _blobs(store) == []


def test_mismatched_checksum_stores_nothing(client: TestClient, demo: Tenant, store: Store) -> None:
    wrong = hashlib.sha256(b"something else").hexdigest()
    reply = _post(client, demo, DOCUMENTS["json"], "json", checksum=wrong)
    assert reply.status_code == 400 and reply.json()["param"] == "checksum"
    assert client.get("/api/v2/datasets", headers=demo.basic_header).json() == []
    assert _blobs(store) == []
    right = hashlib.sha256(DOCUMENTS["json"]).hexdigest()
    assert _post(client, demo, DOCUMENTS["json"], "json", checksum=right).status_code == 201


def test_over_the_limit_is_413(tmp_path: Path, demo: Tenant, store: Store) -> None:
    settings = Settings(data_dir=tmp_path / "data", max_dataset_bytes=1000)
    with TestClient(create_app(settings, store=store)) as small:
        assert _post(small, demo, b"x" * 1000, "misc").status_code == 201
        assert _post(small, demo, b"x" * 1001, "misc").status_code == 413
        multipart = small.post(
            "/api/v2/datasets",
            files={"file": ("big.bin", b"y" * 1001)},
            data={"format": "misc"},
            headers=demo.basic_header,
        )
        assert multipart.status_code == 413
        # Far over: refused by the body limit, from Content-Length, before the body is read.
        assert _post(small, demo, b"z" * 3 * 1024 * 1024, "misc").status_code == 413
        listed = small.get("/api/v2/datasets", headers=demo.basic_header).json()
    assert [d["size"] for d in listed] == [1000]
    assert len(_blobs(store)) == 1


def test_dataset_uploads_have_their_own_body_limit(
    tmp_path: Path, demo: Tenant, store: Store
) -> None:
    settings = Settings(data_dir=tmp_path / "data", max_body_bytes=1000, max_dataset_bytes=3000)
    with TestClient(create_app(settings, store=store)) as small:
        assert _post(small, demo, b"x" * 2500, "misc").status_code == 201
        points = [{"node_id": 1, "tag": "t", "data": [{"v": 1.0, "ts": "2024-01-01T00:00:00Z"}]}]
        v1 = small.post("/demo/api/v1/timeseries", json=points * 40, headers=demo.key_header)
        assert v1.status_code == 413


def test_list_filters_and_pages(client: TestClient, demo: Tenant) -> None:
    made = [
        _post(client, demo, DOCUMENTS["json"], "json", tags=["a", "b"]).json(),
        _post(client, demo, DOCUMENTS["csv"], "csv", tags=["a"], thing_uuid=NODE3).json(),
        _post(client, demo, DOCUMENTS["yaml"], "yaml", thing_uuid=NODE3).json(),
    ]

    def uuids(path: str, **params: Any) -> list[str]:
        reply = client.get(path, params=params, headers=demo.basic_header)
        assert reply.status_code == 200, reply.text
        return [d["uuid"] for d in reply.json()]

    every = [d["uuid"] for d in made]
    assert uuids("/api/v2/datasets") == every
    assert uuids("/api/v2/datasets", tags="a") == every[:2]
    assert uuids("/api/v2/datasets", tags="a,b") == every[:1]
    assert uuids("/api/v2/datasets", format="yaml") == every[2:]
    assert uuids("/api/v2/datasets", thing_uuid=NODE3) == every[1:]
    assert uuids(f"/api/v2/things/{NODE3}/datasets") == every[1:]
    assert uuids("/api/v2/datasets", limit=1, offset=1) == every[1:2]
    assert client.get("/api/v2/datasets?limit=0", headers=demo.basic_header).status_code == 400


def test_update_metadata_and_content(client: TestClient, demo: Tenant, store: Store) -> None:
    made = _post(client, demo, b'{"v": 1}', "json").json()
    path = f"/api/v2/datasets/{made['uuid']}"
    renamed = client.put(path, json={"name": "params", "tags": ["x"]}, headers=demo.basic_header)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "params" and renamed.json()["checksum"] == made["checksum"]

    new = b"v: 2\n"
    body = {"format": "yaml", "content": base64.b64encode(new).decode()}
    changed = client.put(path, json=body, headers=demo.basic_header)
    assert changed.status_code == 200, changed.text
    assert changed.json()["checksum"] == hashlib.sha256(new).hexdigest()
    assert changed.json()["size"] == len(new) and changed.json()["tags"] == ["x"]
    assert client.get(f"{path}/raw", headers=demo.basic_header).content == new
    # The old bytes had nothing else referring to them.
    assert _blobs(store) == [hashlib.sha256(new).hexdigest()]

    bad = client.put(path, json={"format": "xml"}, headers=demo.basic_header)
    assert bad.status_code == 400 and bad.json()["param"] == "content"


def test_delete_frees_the_blob_only_when_unreferenced(
    client: TestClient, demo: Tenant, other: Tenant, store: Store
) -> None:
    content = DOCUMENTS["toml"]
    first = _post(client, demo, content, "toml").json()
    second = _post(client, demo, content, "toml").json()
    theirs = _post(client, other, content, "toml").json()
    assert len(_blobs(store)) == 1

    for dataset, tenant, left in ((first, demo, 1), (theirs, other, 1), (second, demo, 0)):
        reply = client.delete(f"/api/v2/datasets/{dataset['uuid']}", headers=tenant.basic_header)
        assert reply.status_code == 204
        assert len(_blobs(store)) == left
    gone = client.get(f"/api/v2/datasets/{second['uuid']}", headers=demo.basic_header)
    assert gone.status_code == 404


def test_another_domains_dataset_is_404_everywhere(
    client: TestClient, demo: Tenant, other: Tenant
) -> None:
    made = _post(client, demo, DOCUMENTS["json"], "json", thing_uuid=NODE3).json()
    path = f"/api/v2/datasets/{made['uuid']}"
    auth = other.basic_header
    assert client.get(path, headers=auth).status_code == 404
    assert client.get(f"{path}/raw", headers=auth).status_code == 404
    assert client.put(path, json={"name": "mine"}, headers=auth).status_code == 404
    assert client.delete(path, headers=auth).status_code == 404
    assert client.get(f"/api/v2/things/{NODE3}/datasets", headers=auth).status_code == 404
    assert client.get("/api/v2/datasets", headers=auth).json() == []
    # Other's own dataset cannot be put on demo's thing either.
    foreign = _post(client, other, b"{}", "json", thing_uuid=NODE3)
    assert foreign.status_code == 404 and foreign.json()["param"] == "thing_uuid"
    # And demo still has it, unchanged.
    assert client.get(path, headers=demo.basic_header).json() == made


def test_reads_need_credentials(client: TestClient, demo: Tenant) -> None:
    reply = client.get("/api/v2/datasets")
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"].startswith("Basic")


def test_datasets_follow_the_things_collection(
    client: TestClient, demo: Tenant, store: Store
) -> None:
    _, secret = create_key(store, "demo", ALL_SCOPES, collections=frozenset({"north"}))
    north = Tenant("demo", secret)
    thing = client.post(
        "/demo/api/v1/nodes", json={"name": "North pump"}, headers=demo.key_header
    ).json()
    with store.write() as session:
        found = session.get_thing("demo", UUID(thing["uuid"]))
        assert found is not None
        session.put_thing(replace(found, collection="north"))
    loose = _post(client, demo, b"{}", "json").json()
    owned = _post(client, north, b"[]", "json", thing_uuid=thing["uuid"])
    assert owned.status_code == 201, owned.text

    listed = client.get("/api/v2/datasets", headers=north.basic_header).json()
    assert [d["uuid"] for d in listed] == [owned.json()["uuid"]]
    assert (
        client.get(f"/api/v2/datasets/{loose['uuid']}", headers=north.basic_header).status_code
        == 404
    )
    assert _post(client, north, b"{}", "json").status_code == 403
    both = client.get("/api/v2/datasets", headers=demo.basic_header).json()
    assert len(both) == 2


def test_multipart_put_replaces_the_content(client: TestClient, demo: Tenant) -> None:
    made = _post(client, demo, b"[a]\nx = 1\n", "ini").json()
    new = b"[a]\nx = 2\n"
    reply = client.put(
        f"/api/v2/datasets/{made['uuid']}",
        files={"file": ("cal.ini", new)},
        data={"checksum": hashlib.sha256(new).hexdigest()},
        headers=demo.basic_header,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["name"] == made["name"] and reply.json()["size"] == len(new)
    raw = client.get(f"/api/v2/datasets/{made['uuid']}/raw", headers=demo.basic_header)
    assert raw.content == new


def test_a_thing_with_datasets_is_deleted_only_with_cascade(
    client: TestClient, demo: Tenant, store: Store
) -> None:
    thing = client.post(
        "/api/v2/things", json={"name": "substation 9"}, headers=demo.basic_header
    ).json()
    made = _post(client, demo, DOCUMENTS["ini"], "ini", thing_uuid=thing["uuid"]).json()
    path = f"/api/v2/things/{thing['uuid']}"

    refused = client.delete(path, headers=demo.basic_header)
    assert refused.status_code == 409 and "1 datasets" in str(refused.json())
    assert client.get(f"/api/v2/datasets/{made['uuid']}", headers=demo.basic_header).is_success

    assert client.delete(path, params={"cascade": "true"}, headers=demo.basic_header).is_success
    gone = client.get(f"/api/v2/datasets/{made['uuid']}", headers=demo.basic_header)
    assert gone.status_code == 404
    with pytest.raises(NotFound):
        store.blobs.open(made["checksum"])
