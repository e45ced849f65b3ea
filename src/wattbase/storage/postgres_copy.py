"""Binary ``COPY`` in and out of numpy columns, without a Python object per point.

PostgreSQL's binary copy format is a header, then per row a field count and each field as a
length and big-endian bytes, then a trailer. Scalar columns wattbase copies are fixed-width
and NOT NULL, so a row of them is a fixed-size record that numpy reads and writes in one
step. Blocks of points (two arrays per row) vary in length: their rows are framed one by
one, and the elements within each array are again fixed-size records.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
# PostgreSQL type name -> big-endian numpy type of its binary form.
WIRE = {"int4": ">i4", "int8": ">i8", "float8": ">f8"}


def row_dtype(names: Sequence[str], types: Sequence[str]) -> np.dtype[Any]:
    fields: list[tuple[str, str]] = [("_count", ">i2")]
    for name, kind in zip(names, types, strict=True):
        fields += [(f"_len_{name}", ">i4"), (name, WIRE[kind])]
    return np.dtype(fields)


def copy_in(
    cur: psycopg.Cursor[Any], table: str, columns: dict[str, tuple[str, npt.NDArray[Any]]]
) -> None:
    """``COPY table (columns) FROM STDIN`` in binary; ``columns`` maps name -> (type, array)."""
    names = list(columns)
    dtype = row_dtype(names, [kind for kind, _ in columns.values()])
    n = len(next(iter(columns.values()))[1])
    rows = np.empty(n, dtype=dtype)
    rows["_count"] = len(names)
    for name, (kind, values) in columns.items():
        rows[f"_len_{name}"] = np.dtype(WIRE[kind]).itemsize
        rows[name] = values
    with cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(HEADER)
        copy.write(rows.tobytes())
        copy.write(TRAILER)


def copy_out(
    cur: psycopg.Cursor[Any],
    query: str,
    params: Sequence[object],
    names: Sequence[str],
    types: Sequence[str],
) -> dict[str, npt.NDArray[Any]]:
    """The rows of ``query`` (no NULLs) as native-endian numpy columns, by name."""
    buffer = bytearray()
    with cur.copy(f"COPY ({query}) TO STDOUT (FORMAT BINARY)", params) as copy:
        for chunk in copy:
            buffer += chunk
    dtype = row_dtype(names, types)
    # Header: signature, flags, then an extension area whose length is given.
    extension = int.from_bytes(buffer[15:19], "big")
    body = memoryview(buffer)[19 + extension : len(buffer) - len(TRAILER)]
    rows = np.frombuffer(body, dtype=dtype)
    return {
        name: rows[name].astype(WIRE[kind][1:]) for name, kind in zip(names, types, strict=True)
    }


OIDS = {"int8": 20, "float8": 701}
# A block's columns before its arrays.
BLOCK_HEAD = row_dtype(("sid", "hour"), ("int4", "int8"))


def _elements(values: npt.NDArray[Any], kind: str) -> npt.NDArray[Any]:
    """Each value as an array element: its length (8), then its big-endian bytes."""
    out = np.empty(len(values), dtype=[("len", ">i4"), ("value", WIRE[kind])])
    out["len"] = 8
    out["value"] = values
    return out


def _array_head(n: int, kind: str) -> bytes:
    """The field's length, then a one-dimensional array's header: one dimension, no NULLs,
    the element type's OID, then the dimension's length and lower bound (1)."""
    return struct.pack(">iiiiii", 20 + 12 * n, 1, 0, OIDS[kind], n, 1)


def copy_blocks(
    cur: psycopg.Cursor[Any],
    heads: dict[str, npt.NDArray[Any]],
    ts: npt.NDArray[np.int64],
    v: npt.NDArray[np.float64],
) -> None:
    """``COPY point_blocks`` in binary: one row per entry of ``heads`` (sid, hour, n),
    whose points are the next ``n`` of ``ts`` and ``v``."""
    rows = np.zeros(len(heads["sid"]), dtype=BLOCK_HEAD)
    rows["_count"] = 4
    for name in ("sid", "hour"):
        rows[f"_len_{name}"] = rows.dtype[name].itemsize
        rows[name] = heads[name]
    ts_items, v_items = _elements(ts, "int8"), _elements(v, "float8")
    parts = [HEADER]
    first = 0
    for row, n in zip(rows, heads["n"].tolist(), strict=True):
        last = first + n
        parts += [
            row.tobytes(),
            _array_head(n, "int8"),
            ts_items[first:last].tobytes(),
            _array_head(n, "float8"),
            v_items[first:last].tobytes(),
        ]
        first = last
    parts.append(TRAILER)
    with cur.copy("COPY point_blocks (sid, hour, ts, v) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(b"".join(parts))


def copy_out_blocks(
    cur: psycopg.Cursor[Any], query: str, params: Sequence[object]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The ``ts`` and ``v`` arrays of the blocks ``query`` selects (in that order, as its only
    columns), each concatenated in row order.

    PostgreSQL sends an array as its stored elements, each behind its length, so the
    elements of every block are cut out as they are and read in one step, not unnested
    into a row per point (which costs the server several times more).
    """
    buffer = bytearray()
    with cur.copy(f"COPY ({query}) TO STDOUT (FORMAT BINARY)", params) as copy:
        for chunk in copy:
            buffer += chunk
    view = memoryview(buffer)
    length = struct.Struct(">i").unpack_from
    offset = 19 + int.from_bytes(buffer[15:19], "big")
    end = len(buffer) - len(TRAILER)
    ts_parts, v_parts = [], []
    while offset < end:
        # A row: its field count (2 bytes), then each array behind its length; an array's
        # header is 20 bytes (12 for an empty one, which a stored block never is).
        (ts_len,) = length(buffer, offset + 2)
        v_at = offset + 6 + ts_len
        (v_len,) = length(buffer, v_at)
        ts_parts.append(view[offset + 26 : v_at])
        v_parts.append(view[v_at + 24 : v_at + 4 + v_len])
        offset = v_at + 4 + v_len
    ts = np.frombuffer(b"".join(ts_parts), dtype=[("len", ">i4"), ("value", ">i8")])
    v = np.frombuffer(b"".join(v_parts), dtype=[("len", ">i4"), ("value", ">f8")])
    return ts["value"].astype(np.int64), v["value"].astype(np.float64)
