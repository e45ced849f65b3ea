"""format_many's table-driven path writes exactly what numpy's own formatter writes."""

from __future__ import annotations

import numpy as np
import pytest

from wattbase.core.clock import offset_steps, zone
from wattbase.core.timestamps import _suffix, format_many


def reference(micros: np.ndarray, tz_name: str) -> list[str]:
    """The straightforward formatter: numpy's datetime_as_string plus the zone's suffix."""
    tz = zone(tz_name)
    unit = "s" if bool((micros % 1_000_000 == 0).all()) else "us"
    if tz_name == "UTC":
        text = np.datetime_as_string(micros.astype("datetime64[us]"), unit=unit)
        return [f"{t}Z" for t in text]
    steps = offset_steps(tz, int(micros.min()), int(micros.max()))
    starts = np.array([s for s, _ in steps], dtype=np.int64)
    offsets = np.array([o for _, o in steps], dtype=np.int64)
    # Offsets with seconds (local mean time) have no RFC 3339 form: those stamps are UTC.
    offsets = np.where(offsets % 60_000_000 == 0, offsets, 0)
    which = np.maximum(np.searchsorted(starts, micros, side="right") - 1, 0)
    local = micros + offsets[which]
    text = np.datetime_as_string(local.astype("datetime64[us]"), unit=unit)
    suffix = [_suffix(int(o)) for o in offsets]
    lmt = [o % 60_000_000 != 0 for _, o in steps]
    return [f"{t}{'Z' if lmt[w] else suffix[w]}" for t, w in zip(text, which, strict=True)]


@pytest.mark.parametrize("tz_name", ["UTC", "Europe/Stockholm", "America/St_Johns", "Asia/Kolkata"])
@pytest.mark.parametrize("whole", [True, False])
@pytest.mark.parametrize("span", [(-2_000_000_000, 4_000_000_000), (1_700_000_000, 1_700_100_000)])
def test_the_fast_formatter_matches_the_reference(
    tz_name: str, whole: bool, span: tuple[int, int]
) -> None:
    rng = np.random.default_rng(7)
    micros = np.sort(rng.integers(*span, 500)) * 1_000_000
    if not whole:
        micros += rng.integers(0, 1_000_000, 500)
    assert format_many(micros, zone(tz_name)) == reference(micros, tz_name)


def test_years_at_the_edges_and_before_1970() -> None:
    micros = np.array([-62_135_596_800_000_000, -1_000_000, 0, 253_402_300_799_000_000])
    assert format_many(micros, zone("UTC")) == reference(micros, "UTC")
    assert format_many(micros[:1] - 1, zone("UTC")) == reference(micros[:1] - 1, "UTC")


def test_the_digit_parser_agrees_with_numpy_and_leaves_invalid_times_to_it() -> None:
    from wattbase.core import timestamps

    rng = np.random.default_rng(3)
    seconds = rng.integers(-62_135_596_800, 253_402_300_799, 2000)
    texts = [f"{t}Z" for t in np.datetime_as_string(seconds.astype("datetime64[s]"))]
    texts = [t for t in texts if len(t) == 20]
    codes = np.asarray(texts, dtype=np.str_).view(np.uint32).reshape(len(texts), -1)
    parsed = timestamps._whole_seconds_utc(codes)
    assert parsed is not None
    expected = np.array(texts, dtype="U20")
    assert (parsed == np.char.rstrip(expected, "Z").astype("datetime64[us]").astype(np.int64)).all()
    for bad in ["2025-02-29T00:00:00Z", "2025-01-01T24:00:00Z", "1900-02-29T00:00:00Z"]:
        one = np.asarray([bad], dtype=np.str_).view(np.uint32).reshape(1, -1)
        assert timestamps._whole_seconds_utc(one) is None
