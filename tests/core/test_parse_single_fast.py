"""A lone ``...Z`` timestamp (a query's start or end) skips numpy; it must read the same."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattbase.core.clock import zone
from wattbase.core.timestamps import (
    _ascii_whole_seconds,
    _fast,
    _one_whole_second,
    _whole_seconds_utc,
    parse_many,
)
from wattbase.errors import InvalidRequest

DIGITS = st.text(alphabet="0123456789", min_size=2, max_size=2)
SHAPED = st.builds(
    lambda y, mo, d, sep, h, mi, s: f"{y}-{mo}-{d}{sep}{h}:{mi}:{s}Z",
    st.text(alphabet="0123456789", min_size=4, max_size=4),
    DIGITS,
    DIGITS,
    st.sampled_from("T "),
    DIGITS,
    DIGITS,
    DIGITS,
)


@given(text=SHAPED)
def test_a_lone_timestamp_reads_as_the_bulk_parser_reads_it(text: str) -> None:
    one = _one_whole_second(text)
    if one is not None:
        bulk = _fast([text])
        assert bulk is not None and int(bulk[0]) == one


@pytest.mark.parametrize("text", ["2025-02-29T00:00:00Z", "2024-01-01T24:00:00Z", "nope"])
def test_a_lone_bad_timestamp_names_its_place(text: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_many([text], zone("UTC"), lambda _: "start")
    assert caught.value.param == "start"


def test_a_lone_good_timestamp() -> None:
    got = parse_many(["2024-02-29 23:59:59Z"], None, lambda _: "start")
    assert got.dtype == np.int64 and int(got[0]) == 1_709_251_199_000_000


@given(texts=st.lists(SHAPED, min_size=1, max_size=20))
def test_the_ascii_path_reads_as_the_code_point_path(texts: list[str]) -> None:
    by_bytes = _ascii_whole_seconds(texts)
    codes = np.asarray(texts, dtype=np.str_).view(np.uint32).reshape(len(texts), -1)
    by_codes = _whole_seconds_utc(codes)
    if by_bytes is None:
        assert by_codes is None
    else:
        assert by_codes is not None and np.array_equal(by_bytes, by_codes)
