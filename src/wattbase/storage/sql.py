"""SQL fragments both backends share: bucket keys and value filters, from core plans.

Only integers and floats computed by wattbase are inlined; nothing a client sent is.
"""

from __future__ import annotations

from wattbase.model.query import Aggregate, BucketPlan, TimeRange, ValueFilter

# What an open end of a range stands for: far outside any stored time, and far from overflow.
MIN_TS = -(2**62)
MAX_TS = 2**62

AGGREGATES: dict[Aggregate, str] = {
    Aggregate.AVG: "avg(v)",
    Aggregate.MIN: "min(v)",
    Aggregate.MAX: "max(v)",
    Aggregate.SUM: "sum(v)",
    Aggregate.COUNT: "count(v)::DOUBLE",
}


# Hourly rollups: every point's hour is counted, summed, and its extremes kept, so buckets of
# whole hours in zones whose offsets and changes fall on whole hours read an hour's row, not
# its sixty (or 3,600) points.
HOUR = 3_600_000_000


def hours_fit(plan: BucketPlan, values: ValueFilter) -> bool:
    """Whether every hour of UTC falls wholly into one bucket of ``plan``.

    Value filters act on single points, which a rollup no longer knows.
    """
    if values.ge is not None or values.le is not None:
        return False
    changes = [start for start, _ in plan.offsets[1:]]
    if any(offset % HOUR for _, offset in plan.offsets) or any(c % HOUR for c in changes):
        return False
    if plan.calendar_unit is not None:
        return True
    return plan.width > 0 and plan.width % HOUR == 0 and plan.origin % HOUR == 0


def hour_of(ts: str) -> str:
    """The start of ``ts``'s hour; floored, as integer division truncates toward zero."""
    return f"({ts} - (({ts} % {HOUR}) + {HOUR}) % {HOUR})"


def span_bounds(span: TimeRange) -> tuple[int, int]:
    """``[start, end)`` as integers, open ends included."""
    return (
        MIN_TS if span.start is None else span.start,
        MAX_TS if span.end is None else span.end,
    )


def local_clock(plan: BucketPlan, ts: str = "ts") -> str:
    """``ts`` moved onto the plan's local clock by its offset steps."""
    if not plan.offsets:
        return ts
    first_offset = plan.offsets[0][1]
    if len(plan.offsets) == 1:
        return f"({ts} + {first_offset})"
    whens = " ".join(
        f"WHEN {ts} < {start} THEN {previous}"
        for (_, previous), (start, _) in zip(plan.offsets, plan.offsets[1:], strict=False)
    )
    return f"({ts} + CASE {whens} ELSE {plan.offsets[-1][1]} END)"


def floor_to_width(expr: str, width: int, origin: int) -> str:
    # Both engines truncate integer division toward zero; the double modulo floors instead,
    # so times before the origin land in the right bucket.
    shifted = f"({expr} - {origin})" if origin else expr
    return f"({expr} - ((({shifted}) % {width}) + {width}) % {width})"


def value_filter(values: ValueFilter, column: str = "v") -> str:
    """A boolean SQL expression, or an empty string when there is nothing to filter."""
    ge, le = values.ge, values.le
    if ge is not None and le is not None:
        joiner = "OR" if ge > le else "AND"
        return f"({column} >= {float(ge)!r} {joiner} {column} <= {float(le)!r})"
    if ge is not None:
        return f"{column} >= {float(ge)!r}"
    if le is not None:
        return f"{column} <= {float(le)!r}"
    return ""
