"""Points written from kept blocks read exactly as points written afresh."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wattbase.api import formatted_points
from wattbase.api.formatted_points import BLOCK, FormattedPoints
from wattbase.api.points_json import epoch_array, number_fields, points_array
from wattbase.core.clock import zone
from wattbase.core.timestamps import format_codes

CLOCKS = [None, "UTC", "Europe/Stockholm"]


def afresh(ts: np.ndarray, v: np.ndarray, clock: str | None) -> bytes:
    if clock is None:
        return bytes(points_array(number_fields(epoch_array(ts)), v, text=False))
    return bytes(points_array(format_codes(ts, zone(clock)), v))


def series(n: int, step: int = 600_000_000, fraction_at: int | None = None) -> tuple:
    """Read-only arrays, as the point cache holds them."""
    ts = 1_735_689_600_000_000 + np.arange(n, dtype=np.int64) * step
    if fraction_at is not None:
        ts[fraction_at] += 250_000
    v = np.round(np.sin(np.arange(n) / 50.0) * 100, 2)
    ts.flags.writeable = False
    v.flags.writeable = False
    return ts, v


def written(cache: FormattedPoints, ts: np.ndarray, v: np.ndarray, clock: str | None) -> bytes:
    return bytes(cache.points_array(ts, v, None if clock is None else zone(clock)))


@settings(max_examples=60, deadline=None)
@given(
    first=st.integers(0, 3 * BLOCK),
    length=st.integers(1, 2 * BLOCK),
    clock=st.sampled_from(CLOCKS),
    fraction_at=st.one_of(st.none(), st.integers(0, 4 * BLOCK - 1)),
)
def test_any_page_reads_as_written_afresh(
    first: int, length: int, clock: str | None, fraction_at: int | None
) -> None:
    ts, v = series(4 * BLOCK, fraction_at=fraction_at)
    cache = FormattedPoints(1 << 30)
    page = slice(first, min(first + length, len(ts)))
    expected = afresh(ts[page], v[page], clock)
    # Twice: from blocks written for this page, then from the same blocks kept.
    assert written(cache, ts[page], v[page], clock) == expected
    assert written(cache, ts[page], v[page], clock) == expected


def test_blocks_are_written_once_and_served_again(monkeypatch: pytest.MonkeyPatch) -> None:
    ts, v = series(3 * BLOCK)
    cache = FormattedPoints(1 << 30)
    calls: list[int] = []
    write = formatted_points._write

    def counted(*args: object) -> object:
        calls.append(1)
        return write(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(formatted_points, "_write", counted)
    written(cache, ts[10 : 2 * BLOCK + 10], v[10 : 2 * BLOCK + 10], "UTC")
    assert len(calls) == 3
    written(cache, ts[BLOCK : BLOCK + 144], v[BLOCK : BLOCK + 144], "UTC")
    assert len(calls) == 3
    # Another clock is another text.
    written(cache, ts[BLOCK : BLOCK + 144], v[BLOCK : BLOCK + 144], None)
    assert len(calls) == 4


@pytest.mark.parametrize("clock", CLOCKS)
def test_arrays_that_may_change_are_written_afresh(clock: str | None) -> None:
    ts, v = series(BLOCK)
    for changeable in (ts.copy()[5:300], ts.copy()):
        cache = FormattedPoints(1 << 30)
        values = v[5:300] if len(changeable) < BLOCK else v
        assert written(cache, changeable, values, clock) == afresh(changeable, values, clock)
        assert cache.held == 0


def test_a_block_of_arrays_that_are_gone_is_not_served() -> None:
    """Ids are reused: a block found under this pair of ids but made for others is dropped."""
    gone_ts, gone_v = series(BLOCK, step=60_000_000)
    ts, v = series(BLOCK)
    cache = FormattedPoints(1 << 30)
    written(cache, gone_ts[:100], gone_v[:100], "UTC")
    block = next(iter(cache._blocks.values()))
    cache._blocks.clear()
    cache._blocks[(id(ts), id(v), "UTC", 0)] = block
    del gone_ts, gone_v
    assert written(cache, ts[:100], v[:100], "UTC") == afresh(ts[:100], v[:100], "UTC")


def test_room_is_kept_by_dropping_the_least_recently_used() -> None:
    ts, v = series(8 * BLOCK)
    cache = FormattedPoints(1 << 30)
    written(cache, ts[:BLOCK], v[:BLOCK], "UTC")
    one_block = cache.held
    cache = FormattedPoints(2 * one_block + one_block // 2)
    for number in range(8):
        page = slice(number * BLOCK, number * BLOCK + 10)
        assert written(cache, ts[page], v[page], "UTC") == afresh(ts[page], v[page], "UTC")
        assert cache.held <= cache.room
    assert [key[3] for key in cache._blocks] == [6, 7]


@pytest.mark.parametrize("clock", CLOCKS)
def test_views_that_skip_or_reverse_points_are_written_afresh(clock: str | None) -> None:
    ts, v = series(BLOCK)
    cache = FormattedPoints(1 << 30)
    for step in (slice(None, None, -1), slice(0, 400, 2)):
        assert written(cache, ts[step], v[step], clock) == afresh(ts[step], v[step], clock)
    assert cache.held == 0
