"""Deterministic benchmark data: minute values with a smooth daily cycle plus noise."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

DAY = 86_400


def values(seed: int, start_s: int, n: int, step_s: int = 60) -> np.ndarray:
    """``n`` values from ``start_s`` every ``step_s``; the same seed gives the same values."""
    rng = np.random.default_rng(seed)
    ts = start_s + step_s * np.arange(n, dtype=np.int64)
    phase = 2 * np.pi * (ts % DAY) / DAY
    level = 20 + (seed % 17)
    cycle = level + 8 * np.sin(phase - np.pi / 2) + rng.normal(0, 0.7, n)
    return np.round(cycle, 2)


def stamps(start_s: int, n: int, step_s: int = 60) -> np.ndarray:
    """Epoch seconds of ``n`` points from ``start_s``."""
    return start_s + step_s * np.arange(n, dtype=np.int64)


def rfc3339(ts_s: np.ndarray) -> list[str]:
    """UTC RFC 3339 strings (``2025-01-01T00:00:00Z``) of epoch seconds."""
    return [f"{t}Z" for t in np.datetime_as_string(ts_s.astype("datetime64[s]"))]


def spans(n_series: int, n_points: int, size: int) -> Iterator[list[tuple[int, int, int]]]:
    """Requests of ``size`` points over series laid end to end: ``[(series, lo, hi), ...]``."""
    total = n_series * n_points
    for first in range(0, total, size):
        last = min(first + size, total)
        parts = []
        at = first
        while at < last:
            series, lo = divmod(at, n_points)
            hi = min(n_points, lo + (last - at))
            parts.append((series, lo, hi))
            at += hi - lo
        yield parts
