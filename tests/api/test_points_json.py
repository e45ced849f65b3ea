"""Point arrays assembled as rows of bytes are the JSON that encoding each point writes."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from wattbase.api.points_json import epoch_array, epoch_seconds, number_fields, points_array
from wattbase.core.clock import zone
from wattbase.core.timestamps import format_codes, format_many

# From 1850, so Stockholm's answers mix "Z" (local mean time) with "+01:00" and "+02:00".
MICROS = st.integers(-3_800_000_000_000_000, 4_000_000_000_000_000)
FINITE = st.floats(allow_nan=False, allow_infinity=False)


def encoded_one_by_one(stamps: list[str] | list[float] | list[int], v: np.ndarray) -> bytes:
    return orjson.dumps([{"v": x, "ts": t} for x, t in zip(v.tolist(), stamps, strict=True)])


@settings(max_examples=200, deadline=None)
@given(
    micros=arrays(np.int64, st.integers(0, 300), elements=MICROS),
    v=st.data(),
    tz_name=st.sampled_from(["UTC", "Europe/Stockholm", "America/St_Johns"]),
)
def test_text_stamps_match_encoding_each_point(
    micros: np.ndarray, v: st.DataObject, tz_name: str
) -> None:
    micros = np.sort(micros)
    values = v.draw(arrays(np.float64, len(micros), elements=FINITE))
    tz = zone(tz_name)
    assert bytes(points_array(format_codes(micros, tz), values)) == encoded_one_by_one(
        format_many(micros, tz), values
    )


@settings(max_examples=100, deadline=None)
@given(
    micros=arrays(np.int64, st.integers(0, 300), elements=MICROS),
    v=st.data(),
)
def test_epoch_stamps_match_encoding_each_point(micros: np.ndarray, v: st.DataObject) -> None:
    values = v.draw(arrays(np.float64, len(micros), elements=FINITE))
    answer = points_array(number_fields(epoch_array(micros)), values, text=False)
    assert bytes(answer) == encoded_one_by_one(epoch_seconds(micros), values)


@pytest.mark.parametrize("numbers", [[], [0.5], [-1.25e-300, 3.0, 1e16, -0.0], [7, -12345678901]])
def test_number_fields_are_padded_with_nul(numbers: list[float] | list[int]) -> None:
    fields = number_fields(np.array(numbers))
    assert fields.shape[1] == max((len(orjson.dumps(x)) for x in numbers), default=0)
    rows = [bytes(row).rstrip(b"\0") for row in fields]
    assert rows == [orjson.dumps(x) for x in numbers]


@pytest.mark.parametrize("n", [1, 100, 101, 5_000])
@pytest.mark.parametrize("text", [True, False])
def test_short_and_long_answers_are_written_alike(n: int, text: bool) -> None:
    """Up to 100 points are encoded one by one, more as records: the same bytes either way."""
    rng = np.random.default_rng(n)
    micros = np.sort(rng.integers(-3_000_000_000, 4_000_000_000, n)) * 1_000_000
    micros[::3] += rng.integers(0, 1_000_000, len(micros[::3]))
    values = rng.normal(0, 1e3, n) * 10.0 ** rng.integers(-20, 20, n)
    if text:
        tz = zone("Europe/Stockholm")
        answer = points_array(format_codes(micros, tz), values)
        expected = encoded_one_by_one(format_many(micros, tz), values)
    else:
        answer = points_array(number_fields(epoch_array(micros)), values, text=False)
        expected = encoded_one_by_one(epoch_seconds(micros), values)
    assert bytes(answer) == expected
