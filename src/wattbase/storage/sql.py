"""SQL fragments both backends share: bucket keys and value filters, from core plans.

Only integers and floats computed by wattbase are inlined; nothing a client sent is.
"""

from __future__ import annotations

from wattbase.model.query import Aggregate, BucketPlan, ValueFilter

AGGREGATES: dict[Aggregate, str] = {
    Aggregate.AVG: "avg(v)",
    Aggregate.MIN: "min(v)",
    Aggregate.MAX: "max(v)",
    Aggregate.SUM: "sum(v)",
    Aggregate.COUNT: "count(v)::DOUBLE",
}


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
