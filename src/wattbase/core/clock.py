"""Time zones, offsets and instants in microseconds; cached because every read needs them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wattbase.errors import InvalidRequest

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NAIVE_EPOCH = datetime(1970, 1, 1)
ONE_MICRO = timedelta(microseconds=1)
WEEK = 7 * 86_400_000_000


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; 400 naming ``timezone`` when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidRequest(f"unknown time zone '{name}'", param="timezone") from exc


def to_micros(when: datetime) -> int:
    return (when - EPOCH) // ONE_MICRO


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def offset_at(tz: ZoneInfo, micros: int) -> int:
    """The zone's UTC offset at the instant, in microseconds."""
    offset = from_micros(micros).astimezone(tz).utcoffset()
    return 0 if offset is None else offset // ONE_MICRO


def local_to_instant(tz: ZoneInfo, local_micros: int) -> int:
    """The instant a local wall-clock time names (the earlier one when it is ambiguous)."""
    naive = NAIVE_EPOCH + timedelta(microseconds=local_micros)
    return to_micros(naive.replace(tzinfo=tz))


@lru_cache(maxsize=4096)
def _year_transitions(tz: ZoneInfo, year: int) -> tuple[tuple[int, int], ...]:
    # Offsets change at most a few times a year and never twice within a week, so weekly
    # samples find every change and a bisection pins it to the microsecond.
    start = to_micros(datetime(year, 1, 1, tzinfo=UTC))
    end = to_micros(datetime(year + 1, 1, 1, tzinfo=UTC))
    found: list[tuple[int, int]] = []
    prev_t, prev_off = start, offset_at(tz, start)
    t = start
    while t < end:
        t = min(t + WEEK, end)
        off = offset_at(tz, t)
        if off != prev_off:
            lo, hi = prev_t, t
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset_at(tz, mid) == prev_off:
                    lo = mid
                else:
                    hi = mid
            found.append((hi, off))
        prev_t, prev_off = t, off
    return tuple(found)


def offset_steps(tz: ZoneInfo, lo: int, hi: int) -> tuple[tuple[int, int], ...]:
    """``(from, offset)`` steps covering ``[lo, hi]``: the offset from each ``from`` on."""
    steps = [(lo, offset_at(tz, lo))]
    for year in range(from_micros(lo).year, from_micros(hi).year + 1):
        for start, off in _year_transitions(tz, year):
            if lo < start <= hi and off != steps[-1][1]:
                steps.append((start, off))
    return tuple(steps)


def is_fixed(tz: ZoneInfo) -> bool:
    return tz.key == "UTC" or tz.key.startswith("Etc/")
