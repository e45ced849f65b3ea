"""Point data as columns: one int64 array of UTC microseconds, one float64 array of values."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

Micros = npt.NDArray[np.int64]
Values = npt.NDArray[np.float64]


class WriteMode(StrEnum):
    INSERT = "insert"
    UPDATE_WINDOW = "update_window"
    REPLACE_WINDOW = "replace_window"


@dataclass(slots=True)
class PointCounts:
    """What one write did to one series. The API reports these per series."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: int = 0
    conflicting: int = 0
    out_of_bounds: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "deleted": self.deleted,
            "skipped": self.skipped,
            "conflicting": self.conflicting,
            "out_of_bounds": self.out_of_bounds,
        }


@dataclass(slots=True)
class SeriesPoints:
    """Points for one series, sorted by time with unique timestamps.

    ``window`` is the inclusive span ``replace_window`` clears: the first and last timestamp
    the client sent, which may lie outside ``ts`` when points were out of bounds.
    """

    sid: int
    ts: Micros
    v: Values
    window: tuple[int, int] | None = None

    def replace_span(self) -> tuple[int, int] | None:
        """The inclusive span ``replace_window`` clears; None when nothing was sent."""
        if self.window is not None:
            return self.window
        return (int(self.ts[0]), int(self.ts[-1])) if len(self.ts) else None


@dataclass(slots=True)
class PointsPage:
    """Points read back. When the answer was capped, ``next_start`` is where the next page
    begins: its ``start`` for ascending reads, its (exclusive) ``end`` for descending ones."""

    ts: Micros
    v: Values
    next_start: int | None = None
