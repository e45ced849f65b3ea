"""Query strings read into a Struct (``api/query_params``), and the read and write routes
that use it."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Annotated, Any, Literal

import msgspec
import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from tests.conftest import Tenant
from wattbase.api.query_params import parameters, query_of
from wattbase.errors import InvalidRequest

TS = "/demo/api/v1/timeseries"


class Fruit(StrEnum):
    APPLE = "apple"
    PEAR = "pear"


class Sample(msgspec.Struct, frozen=True):
    name: Annotated[str | None, msgspec.Meta(description="A name.")] = None
    fruit: Fruit = Fruit.APPLE
    size: Literal["small", "large"] | None = None
    ripe: bool = False
    count: int = 1
    above: float | None = None


def _read(query: str) -> Sample:
    scope = {"type": "http", "method": "GET", "path": "/", "query_string": query.encode()}
    return asyncio.run(query_of(Sample)(Request(scope)))


def _refused(query: str) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        _read(query)
    return caught.value


def test_values_convert_and_absent_ones_take_their_defaults() -> None:
    assert _read("name=a%20b&fruit=pear&ripe=true&count=7&other=x") == Sample(
        name="a b", fruit=Fruit.PEAR, ripe=True, count=7
    )
    assert _read("") == Sample()
    assert _read("ripe=1").ripe is True
    assert _read("ripe=TRUE").ripe is True
    assert _read("ripe=Yes").ripe is True
    assert _read("ripe=off").ripe is False
    assert _read("ripe=0").ripe is False


def test_numbers_read_as_pythons_float_reads_them() -> None:
    assert _read("above=%201_000.5%20").above == 1000.5
    assert _read("above=-inf").above == float("-inf")
    assert _refused("above=lots").param == "above"


def test_the_last_of_a_repeated_parameter_counts() -> None:
    assert _read("count=1&count=3").count == 3


@pytest.mark.parametrize(
    ("query", "param", "says"),
    [
        ("fruit=plum", "fruit", "fruit: must be one of apple, pear"),
        ("size=huge", "size", "size: must be one of large, small"),
        ("ripe=perhaps", "ripe", "ripe: must be true or false"),
        ("count=many", "count", "count: Expected `int`, got `str`"),
    ],
)
def test_a_bad_value_names_its_parameter(query: str, param: str, says: str) -> None:
    error = _refused(query)
    assert error.param == param
    assert error.message == says


def test_parameters_describe_every_field_for_openapi() -> None:
    described = {p["name"]: p for p in parameters(Sample)}
    assert list(described) == ["name", "fruit", "size", "ripe", "count", "above"]
    assert all(p["in"] == "query" and p["required"] is False for p in described.values())
    assert described["name"]["description"] == "A name."
    # Enums are written in place: the route's description has no component for them.
    assert described["fruit"]["schema"]["enum"] == ["apple", "pear"]
    assert described["fruit"]["schema"]["default"] == "apple"
    assert described["ripe"]["schema"] == {"type": "boolean", "default": False}


def _operation(client: TestClient, method: str) -> dict[str, Any]:
    spec = client.get("/openapi.json").json()
    operation: dict[str, Any] = spec["paths"]["/{domain}/api/v1/timeseries"][method]
    return operation


def test_the_v1_timeseries_routes_publish_their_query_parameters(client: TestClient) -> None:
    read = {p["name"]: p for p in _operation(client, "get")["parameters"]}
    assert set(read) == {
        "domain", "node_id", "node_ids", "tag", "tags", "start", "end",
        "resolution", "aggregate", "epoch",
    }  # fmt: skip
    assert "hour" in read["resolution"]["schema"]["anyOf"][0]["enum"]
    write = {p["name"]: p for p in _operation(client, "post")["parameters"]}
    assert set(write) == {"domain", "silent", "overwrite"}
    assert "update_window" in write["overwrite"]["schema"]["anyOf"][0]["enum"]


def test_a_v1_read_with_a_bad_flag_is_refused_with_the_choices(
    client: TestClient, demo: Tenant
) -> None:
    reply = client.get(TS, headers=demo.key_header, params={"tag": "x", "epoch": "sometimes"})
    assert reply.status_code == 400
    assert reply.json() == {
        "error": "epoch: must be true or false",
        "code": 400,
        "type": "invalid_request",
        "param": "epoch",
    }
    reply = client.get(TS, headers=demo.key_header, params={"tag": "x", "resolution": "week"})
    assert reply.json()["param"] == "resolution"
    assert "10minute" in reply.json()["error"]


def test_the_v2_reads_publish_their_query_parameters(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/api/v2/timeseries/{uuid}/data", "/api/v2/tsquery"):
        described = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
        expected = {"start", "end", "precision", "aggregate", "timezone", "unit", "ge", "le"}
        assert expected <= set(described), path
        assert "hour" in described["precision"]["schema"]["anyOf"][0]["enum"], path


def test_a_v2_read_with_a_bad_bound_names_it(client: TestClient, demo: Tenant) -> None:
    url = "/api/v2/timeseries/00000000-0000-0000-0000-000000000001/data"
    reply = client.get(url, headers=demo.basic_header, params={"ge": "lots"})
    assert reply.status_code == 400
    assert reply.json()["param"] == "ge"
    reply = client.get(url, headers=demo.basic_header, params={"precision": "fortnight"})
    assert reply.json()["param"] == "precision"
    assert "hour" in reply.json()["error"]


def test_a_v1_query_is_checked_after_the_key(client: TestClient, other: Tenant) -> None:
    """A caller without a key for the domain learns nothing about its parameters."""
    reply = client.get(TS, headers=other.key_header, params={"tag": "x", "epoch": "sometimes"})
    assert reply.status_code == 401
