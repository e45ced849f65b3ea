"""Binary ``COPY`` in and out of numpy columns, without a Python object per point.

PostgreSQL's binary copy format is a header, then per row a field count and each field as a
length and big-endian bytes, then a trailer. Every column wattbase copies is fixed-width and
NOT NULL, so a row is a fixed-size record that numpy reads and writes in one step.
"""

from __future__ import annotations

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
