"""The JSON of points read from series held in memory, written once per block of points.

Raw reads of a series that the embedded store holds in memory answer read-only views of
the series' arrays (see ``embedded_point_cache``), and such arrays never change: a change
to the series makes new ones. Dashboards read the same series over and over, and writing
the points' JSON took 45% of the event loop's time under the benchmark's mixed load (day,
month and quarter reads; py-spy). So the JSON of each block of ``BLOCK`` points of those
arrays is kept, with where each point's record starts in it, and a read that comes back to
the same points joins slices of the blocks instead of writing them again.

- Only views of read-only arrays are answered from blocks; anything else (PostgreSQL's
  answers, converted values, filtered points) is written as before by ``points_array``.
- A block is keyed by the arrays' identity and checked through weak references, so a
  block of arrays that are gone is never served, even when their ``id`` is reused.
- A block records whether all its points fall on whole seconds, which decides whether
  its timestamps are written with fractions. A page is written afresh when its blocks
  disagree with each other or with the page, so that its timestamps look exactly as
  ``points_array`` writes them: with fractions on every point or on none.
- At most ``room`` bytes of blocks are kept, the least recently used dropped first.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import NamedTuple
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import numpy.typing as npt

from wattbase.api.points_json import epoch_array, number_fields, point_records, points_array
from wattbase.core.timestamps import format_codes
from wattbase.model.points import Micros, Values
from wattbase.model.query import MICROS_PER_SECOND

# Points per block: small enough that the first read of a day of a series writes little
# more than it answers, large enough that a read of a year joins a few dozen slices.
BLOCK = 2048
# Bytes of blocks kept by ``FORMATTED``: about 25 series of a year of 10-minute points.
ROOM = 64 << 20


class _Block(NamedTuple):
    ts_ref: weakref.ref[Micros]
    v_ref: weakref.ref[Values]
    json: bytes
    # Where each record starts in ``json``, and after the last one, its end.
    starts: npt.NDArray[np.int64]
    whole_seconds: bool


# A block's key: both arrays' ids, the clock (a zone's key, or "epoch"), the block's number.
_Key = tuple[int, int, str, int]


class FormattedPoints:
    """Blocks of formatted points of read-only arrays, up to ``room`` bytes."""

    def __init__(self, room: int) -> None:
        self.room = room
        self._blocks: OrderedDict[_Key, _Block] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        """Bytes of blocks kept."""
        return self._held

    def points_array(self, ts: Micros, v: Values, clock: ZoneInfo | None) -> msgspec.Raw:
        """``[{"v": .., "ts": ..}, ...]`` as ``points_array`` writes it: timestamps in RFC
        3339 on ``clock``, or in Unix seconds when ``clock`` is None."""
        source = _source(ts, v)
        if source is None:
            return _fresh(ts, v, clock)
        whole_ts, whole_v, first = source
        after = first + len(ts)
        name = "epoch" if clock is None else clock.key
        blocks: list[tuple[int, _Block]] = []
        for number in range(first // BLOCK, (after - 1) // BLOCK + 1):
            key = (id(whole_ts), id(whole_v), name, number)
            block = self._get(key, whole_ts, whole_v)
            if block is None:
                block = self._put(key, _write(whole_ts, whole_v, number, clock))
            blocks.append((number, block))
        whole = {b.whole_seconds for _, b in blocks}
        if whole != {True} and (whole != {False} or bool((ts % MICROS_PER_SECOND == 0).all())):
            # Blocks with fractions written where this page has none, or the other way.
            return _fresh(ts, v, clock)
        pieces: list[memoryview] = []
        for number, block in blocks:
            lo = max(first - number * BLOCK, 0)
            hi = min(after - number * BLOCK, len(block.starts) - 1)
            pieces.append(memoryview(block.json)[block.starts[lo] : block.starts[hi]])
        # Every record ends with a comma; the last one's makes way for the bracket.
        pieces[-1] = pieces[-1][:-1]
        return msgspec.Raw(b"".join([b"[", *pieces, b"]"]))

    def _get(self, key: _Key, whole_ts: Micros, whole_v: Values) -> _Block | None:
        with self._lock:
            block = self._blocks.get(key)
            if block is None:
                return None
            if block.ts_ref() is not whole_ts or block.v_ref() is not whole_v:
                # Arrays that are gone, whose ids went to these.
                self._drop(key)
                return None
            self._blocks.move_to_end(key)
            return block

    def _put(self, key: _Key, block: _Block) -> _Block:
        size = len(block.json) + block.starts.nbytes
        if size > self.room:
            return block
        with self._lock:
            if key in self._blocks:
                self._drop(key)
            while self._blocks and self._held + size > self.room:
                self._drop(next(iter(self._blocks)))
            self._blocks[key] = block
            self._held += size
        return block

    def _drop(self, key: _Key) -> None:
        block = self._blocks.pop(key)
        self._held -= len(block.json) + block.starts.nbytes


def _source(ts: Micros, v: Values) -> tuple[Micros, Values, int] | None:
    """The read-only arrays ``ts`` and ``v`` are contiguous views of, and where they start."""
    whole_ts, whole_v = ts.base, v.base
    if not isinstance(whole_ts, np.ndarray) or not isinstance(whole_v, np.ndarray):
        return None
    if whole_ts.flags.writeable or whole_v.flags.writeable or not len(ts):
        return None
    if whole_ts.dtype != np.int64 or whole_v.dtype != np.float64 or len(whole_ts) != len(whole_v):
        return None
    # One-dimensional and contiguous, all four: offsets then count points.
    if {ts.strides, v.strides, whole_ts.strides, whole_v.strides} != {(8,)}:
        return None
    offset = ts.__array_interface__["data"][0] - whole_ts.__array_interface__["data"][0]
    if offset != v.__array_interface__["data"][0] - whole_v.__array_interface__["data"][0]:
        return None
    return whole_ts, whole_v, offset // 8


def _stamps(ts: Micros, clock: ZoneInfo | None) -> npt.NDArray[np.uint8]:
    return number_fields(epoch_array(ts)) if clock is None else format_codes(ts, clock)


def _fresh(ts: Micros, v: Values, clock: ZoneInfo | None) -> msgspec.Raw:
    return points_array(_stamps(ts, clock), v, text=clock is not None)


def _write(whole_ts: Micros, whole_v: Values, number: int, clock: ZoneInfo | None) -> _Block:
    ts = whole_ts[number * BLOCK : (number + 1) * BLOCK]
    v = whole_v[number * BLOCK : (number + 1) * BLOCK]
    records = point_records(_stamps(ts, clock), v, text=clock is not None)
    width = records.dtype.itemsize
    padded = records.tobytes()
    lengths = np.count_nonzero(np.frombuffer(padded, dtype=np.uint8).reshape(-1, width), axis=1)
    starts = np.zeros(len(ts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    return _Block(
        ts_ref=weakref.ref(whole_ts),
        v_ref=weakref.ref(whole_v),
        # Numbers and timestamps hold no NUL, so every NUL is padding.
        json=padded.replace(b"\0", b""),
        starts=starts,
        whole_seconds=bool((ts % MICROS_PER_SECOND == 0).all()),
    )


# One for the process: blocks belong to arrays, not to an app or a store.
FORMATTED = FormattedPoints(ROOM)
