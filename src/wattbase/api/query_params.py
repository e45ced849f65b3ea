"""Query strings read into one msgspec Struct per route, and documented from it.

FastAPI validates each declared query parameter on every request by looking at its
annotation again, about 12 us a parameter. The v1 timeseries read takes ten: under the
benchmark's mixed load that was a tenth of the event loop's time. The routes that read and
write points (v1 timeseries, v2 data and ``tsquery``) declare their parameters once, as a
Struct: ``Depends(query_of(Model))`` reads them in one ``msgspec.convert``, and
``parameters(Model)`` puts them in the OpenAPI description.

Values convert as FastAPI converted them: booleans from ``true``/``false``, ``1``/``0``,
``yes``/``no``, ``on``/``off``, ``t``/``f`` or ``y``/``n`` in any case, numbers as Python's
``float`` reads them (spaces around, ``_`` between digits), an enum from its value.
Parameters not in the Struct are ignored, and of a repeated one the last counts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any, TypeVar

import msgspec
from fastapi import Request

from wattbase.api.errors import msgspec_place
from wattbase.errors import InvalidRequest

S = TypeVar("S", bound=msgspec.Struct)
_REFS = "#/components/schemas/"
# The words for a boolean that pydantic takes and msgspec's lax mode does not.
_BOOLEAN_WORDS = {
    word: canonical
    for canonical, words in (("true", ("yes", "on", "t", "y")), ("false", ("no", "off", "f", "n")))
    for word in words
}


def query_of(model: type[S]) -> Callable[[Request], Awaitable[S]]:
    """A dependency giving the request's query string as ``model``, or a 400 naming the
    parameter."""
    properties = _properties(model)
    flags = [name for name, schema in properties.items() if "boolean" in _types(schema)]
    numbers = [name for name, schema in properties.items() if "number" in _types(schema)]

    # Async: FastAPI runs a plain ``def`` dependency in its thread pool.
    async def read(request: Request) -> S:
        given: dict[str, Any] = dict(request.query_params)
        for name in flags:
            if name in given:
                given[name] = _BOOLEAN_WORDS.get(given[name].lower(), given[name])
        for name in numbers:
            if name in given:
                # Left as text when it is not a number: msgspec's error then names it.
                with suppress(ValueError):
                    given[name] = float(given[name])
        try:
            return msgspec.convert(given, model, strict=False)
        except msgspec.ValidationError as exc:
            place, message = msgspec_place(exc)
            if not place:
                raise InvalidRequest(message) from None
            name = place.removeprefix(".")
            raise InvalidRequest(
                f"{name}: {_expected(properties.get(name, {}), message)}", param=name
            ) from None

    return read


def parameters(model: type[msgspec.Struct]) -> list[dict[str, Any]]:
    """The OpenAPI parameter objects of ``model``'s fields, for a route's
    ``openapi_extra={"parameters": ...}``."""
    out = []
    for name, schema in _properties(model).items():
        entry: dict[str, Any] = {"name": name, "in": "query", "required": False}
        description = schema.pop("description", None)
        if description is not None:
            entry["description"] = description
        entry["schema"] = schema
        out.append(entry)
    return out


def _properties(model: type[msgspec.Struct]) -> dict[str, dict[str, Any]]:
    """Each field's JSON schema, with enums written in place rather than referenced."""
    (_,), components = msgspec.json.schema_components((model,), ref_template=_REFS + "{name}")
    properties: dict[str, dict[str, Any]] = components[model.__name__]["properties"]
    return {name: _inline(schema, components) for name, schema in properties.items()}


def _inline(schema: Any, components: dict[str, Any]) -> Any:
    if isinstance(schema, list):
        return [_inline(item, components) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        target = components[schema["$ref"].removeprefix(_REFS)]
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return _inline({**target, **rest}, components)
    return {key: _inline(value, components) for key, value in schema.items()}


def _types(schema: dict[str, Any]) -> set[str]:
    return {s["type"] for s in schema.get("anyOf", [schema]) if "type" in s}


def _expected(schema: dict[str, Any], fallback: str) -> str:
    """What a parameter takes, said from its schema where that is plainer than msgspec's."""
    choices = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    if len(choices) == 1 and "enum" in choices[0]:
        return "must be one of " + ", ".join(str(v) for v in choices[0]["enum"])
    if len(choices) == 1 and choices[0].get("type") == "boolean":
        return "must be true or false"
    return fallback
