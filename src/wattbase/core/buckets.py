"""Bucket plans: how a precision and a time zone turn into what the store groups by.

Buckets shorter than a day have a fixed length in real time, aligned to the zone's local
clock. A day, a week and longer run from local midnight to local midnight, so a Stockholm
day holds 23 hours on 2023-03-26 and 25 on 2023-10-29. The store computes the local clock
from a short list of offset steps (one per DST change in the range), which keeps the
grouping pure integer arithmetic inside the database.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np

from wattbase.core.clock import local_to_instant, offset_at, offset_steps
from wattbase.model.points import Micros
from wattbase.model.query import FIXED_WIDTHS, BucketPlan, Precision

DAY = 86_400_000_000
# 1970-01-01 was a Thursday; weeks start on Monday 1969-12-29.
MONDAY_ORIGIN = -3 * DAY
CALENDAR_UNITS: dict[Precision, str] = {
    Precision.MONTH: "month",
    Precision.YEAR: "year",
    Precision.DECADE: "decade",
    Precision.CENTURY: "century",
    Precision.MILLENNIA: "millennium",
}


def plan_buckets(precision: Precision, tz: ZoneInfo, lo: int, hi: int) -> BucketPlan:
    """The plan for points between instants ``lo`` and ``hi`` (inclusive)."""
    width = FIXED_WIDTHS.get(precision)
    if width is not None:
        # Align to the local clock: an hour in +05:30 starts at half past in UTC.
        return BucketPlan(width=width, origin=-offset_at(tz, lo) % width)
    steps = offset_steps(tz, lo, hi)
    if len(steps) == 1 and steps[0][1] == 0:
        steps = ()
    if precision is Precision.DAY:
        return BucketPlan(width=DAY, offsets=steps)
    if precision is Precision.WEEK:
        return BucketPlan(width=7 * DAY, origin=MONDAY_ORIGIN, offsets=steps)
    return BucketPlan(calendar_unit=CALENDAR_UNITS[precision], offsets=steps)


def bucket_instants(plan: BucketPlan, keys: Micros, tz: ZoneInfo) -> Micros:
    """Turn the store's bucket keys into the instants the buckets start at."""
    if not plan.offsets:
        return keys
    return np.array([local_to_instant(tz, int(k)) for k in keys], dtype=np.int64)
