"""Point arrays in and out of JSON, without a Python object per point on the way out."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, TypeVar

import msgspec
import numpy as np
import numpy.typing as npt
import orjson

from wattbase.api.errors import msgspec_place
from wattbase.errors import InvalidRequest
from wattbase.model.points import Micros, Values

T = TypeVar("T")


def decode(decoder: msgspec.json.Decoder[T], body: bytes) -> T:
    """Decode a body, or 400 naming where it went wrong (``[0].data[17].v``)."""
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        path, message = msgspec_place(exc)
        raise InvalidRequest(f"{path}: {message}" if path else message, param=path) from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(_malformed(body, str(exc)), param=_non_finite_place(body)) from None
    except RecursionError:
        # Only reached when the depth check (api/json_depth.py) was set above what fits.
        raise InvalidRequest("the JSON body nests too deep", param="body") from None


def _malformed(body: bytes, reason: str) -> str:
    place = _non_finite_place(body)
    if place is not None:
        return f"{place}: NaN and Infinity are not numbers in JSON; send finite values only"
    return f"the body is not valid JSON ({reason})"


def _non_finite_place(body: bytes) -> str | None:
    """Where a NaN/Infinity literal sits, found with the lenient stdlib parser."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return _find_non_finite(data, "")


def _find_non_finite(node: Any, path: str) -> str | None:
    if isinstance(node, float) and not math.isfinite(node):
        return path
    if isinstance(node, list):
        items: Sequence[tuple[str, Any]] = [(f"{path}[{i}]", x) for i, x in enumerate(node)]
    elif isinstance(node, dict):
        items = [(f"{path}.{k}" if path else str(k), x) for k, x in node.items()]
    else:
        return None
    for sub, child in items:
        found = _find_non_finite(child, sub)
        if found is not None:
            return found
    return None


_COMMA = ord(",")
# Answers of up to this many points are encoded a point at a time (see points_array).
_FEW = 100
Numbers = npt.NDArray[np.float64] | npt.NDArray[np.int64]


def number_fields(numbers: Numbers) -> npt.NDArray[np.uint8]:
    """Each number's JSON text as a row of bytes, NUL after the shorter ones."""
    if not len(numbers):
        return np.empty((0, 0), dtype=np.uint8)
    # orjson writes a numpy array's numbers in C, without a Python float for each.
    text = orjson.dumps(np.ascontiguousarray(numbers), option=orjson.OPT_SERIALIZE_NUMPY)
    encoded = np.frombuffer(text, dtype=np.uint8)
    # No JSON number holds a comma, so the array's commas are the boundaries.
    ends = np.append(np.flatnonzero(encoded == _COMMA).astype(np.int32), len(encoded) - 1)
    starts = np.empty_like(ends)
    starts[0], starts[1:] = 1, ends[:-1] + 1
    lengths = ends - starts
    width = int(lengths.max())
    padded = np.zeros(len(encoded) + width, dtype=np.uint8)
    padded[: len(encoded)] = encoded
    # Built column by column: rows of a few bytes each would cost numpy a loop per row.
    columns = np.arange(width, dtype=np.int32)[:, None]
    fields = padded[columns + starts]
    fields *= columns < lengths
    return np.ascontiguousarray(fields.T)


def points_array(ts: npt.NDArray[np.uint8], v: Values, *, text: bool = True) -> msgspec.Raw:
    """``[{"v": .., "ts": ..}, ...]`` as raw JSON, to embed in a larger answer.

    ``ts`` holds a row of bytes per point, NUL-padded: RFC 3339 text (``format_codes``)
    or, with ``text=False``, JSON numbers (``number_fields``). Past ``_FEW`` points, each
    point is one record of fixed-width byte fields, filled a field at a time, and the
    padding goes in one pass at the end: about a third of the time of encoding one small
    object per point.
    """
    if len(v) <= _FEW:
        # Building the records costs some 30 us whatever their number: below about a
        # hundred points, one dict each is cheaper. orjson writes numbers alike either way.
        stamps = _strings(ts).tolist() if len(v) else []
        times = [t.decode() for t in stamps] if text else [orjson.loads(t) for t in stamps]
        points = [{"v": x, "ts": t} for x, t in zip(v.tolist(), times, strict=True)]
        return msgspec.Raw(orjson.dumps(points))
    # Numbers and timestamps hold no NUL, so every NUL is padding.
    return msgspec.Raw(
        b"[" + point_records(ts, v, text=text).tobytes().replace(b"\0", b"")[:-1] + b"]"
    )


def point_records(
    ts: npt.NDArray[np.uint8], v: Values, *, text: bool = True
) -> npt.NDArray[np.void]:
    """One fixed-width record per point, ``{"v":..,"ts":..},`` padded with NUL; ``ts`` as
    for ``points_array``."""
    quote = b'"' if text else b""
    fields: tuple[bytes | npt.NDArray[np.uint8], ...] = (
        b'{"v":',
        number_fields(v),
        b',"ts":' + quote,
        ts,
        quote + b"},",
    )
    records = np.empty(
        len(v), dtype=np.dtype([(f"f{i}", f"S{_width(f)}") for i, f in enumerate(fields)])
    )
    for i, field in enumerate(fields):
        records[f"f{i}"] = field if isinstance(field, bytes) else _strings(field)
    return records


def _width(field: bytes | npt.NDArray[np.uint8]) -> int:
    return len(field) if isinstance(field, bytes) else field.shape[1]


def _strings(rows: npt.NDArray[np.uint8]) -> npt.NDArray[np.bytes_]:
    """Rows of bytes as one fixed-width bytes string per row (a view, not a copy)."""
    return np.ascontiguousarray(rows).view(f"S{rows.shape[1]}").ravel()


def epoch_seconds(ts: Micros) -> list[float] | list[int]:
    return epoch_array(ts).tolist()  # type: ignore[no-any-return]


def epoch_array(ts: Micros) -> Numbers:
    """Seconds since 1970: whole when every stamp is, else with their fraction."""
    if bool((ts % 1_000_000 == 0).all()):
        return ts // 1_000_000
    return ts / 1e6


def json_bytes(obj: object) -> bytes:
    return msgspec.json.encode(obj)


def empty_columns() -> tuple[Micros, Values]:
    return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
