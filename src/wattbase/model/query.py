"""What a read asks for: a time range, and optionally buckets and an aggregate."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

MICROS_PER_SECOND = 1_000_000


class Aggregate(StrEnum):
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    SUM = "sum"
    COUNT = "count"


class Precision(StrEnum):
    """Bucket sizes of v2's ``precision``; v1's ``resolution`` names map onto these."""

    MICROSECONDS = "microseconds"
    MILLISECONDS = "milliseconds"
    SECOND = "second"
    MINUTE = "minute"
    MINUTE5 = "minute5"
    MINUTE10 = "minute10"
    MINUTE15 = "minute15"
    MINUTE20 = "minute20"
    MINUTE30 = "minute30"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"
    DECADE = "decade"
    CENTURY = "century"
    MILLENNIA = "millennia"


# Fixed-length buckets, in microseconds. Day and week are fixed in *local* time only.
FIXED_WIDTHS: dict[Precision, int] = {
    Precision.MICROSECONDS: 1,
    Precision.MILLISECONDS: 1_000,
    Precision.SECOND: MICROS_PER_SECOND,
    Precision.MINUTE: 60 * MICROS_PER_SECOND,
    Precision.MINUTE5: 300 * MICROS_PER_SECOND,
    Precision.MINUTE10: 600 * MICROS_PER_SECOND,
    Precision.MINUTE15: 900 * MICROS_PER_SECOND,
    Precision.MINUTE20: 1200 * MICROS_PER_SECOND,
    Precision.MINUTE30: 1800 * MICROS_PER_SECOND,
    Precision.HOUR: 3600 * MICROS_PER_SECOND,
}

V1_RESOLUTIONS: dict[str, Precision] = {
    "second": Precision.SECOND,
    "minute": Precision.MINUTE,
    "5minute": Precision.MINUTE5,
    "10minute": Precision.MINUTE10,
    "15minute": Precision.MINUTE15,
    "20minute": Precision.MINUTE20,
    "30minute": Precision.MINUTE30,
    "hour": Precision.HOUR,
    "day": Precision.DAY,
    "month": Precision.MONTH,
    "year": Precision.YEAR,
    "decade": Precision.DECADE,
    "century": Precision.CENTURY,
    "millennia": Precision.MILLENNIA,
}


@dataclass(frozen=True, slots=True)
class TimeRange:
    """``start`` inclusive, ``end`` exclusive, both UTC microseconds; None is open."""

    start: int | None = None
    end: int | None = None


@dataclass(frozen=True, slots=True)
class BucketPlan:
    """How the store groups points into buckets, computed by the core for one query.

    The store evaluates ``local = ts + offset(ts)``, where ``offsets`` is a list of
    ``(from_utc_micros, offset_micros)`` steps (empty: offset 0), and then either truncates
    ``local`` to ``calendar_unit`` (month and longer) or floors it to ``width`` counted from
    ``origin``. Bucket keys come back in that local clock; the core turns them into instants.
    """

    width: int = 0
    origin: int = 0
    calendar_unit: str | None = None
    offsets: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ValueFilter:
    """``ge``/``le`` on values; ``ge > le`` keeps what lies outside the window."""

    ge: float | None = None
    le: float | None = None

    def keeps(self, v: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """Which of ``v`` pass, as ``storage.sql.value_filter`` decides in SQL."""
        above = np.ones(len(v), dtype=bool) if self.ge is None else v >= self.ge
        below = np.ones(len(v), dtype=bool) if self.le is None else v <= self.le
        if self.ge is not None and self.le is not None and self.ge > self.le:
            return above | below
        return above & below
