"""The streaming nesting check agrees with a real parser, however the body is cut up."""

from __future__ import annotations

import json
from typing import Any

import hypothesis.strategies as st
from hypothesis import given, settings

from wattbase.api.json_depth import DepthScanner

TRICKY = st.text(alphabet='[]{}"\\ab/\n', max_size=8)
SCALARS = st.none() | st.booleans() | st.integers() | TRICKY
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY, inner, max_size=3),
    max_leaves=30,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


def passes(body: bytes, limit: int, cuts: list[int]) -> bool:
    scanner = DepthScanner(limit)
    edges = [0, *sorted(c % (len(body) + 1) for c in cuts), len(body)]
    return all(scanner.feed(body[a:b]) for a, b in zip(edges, edges[1:], strict=False))


@settings(max_examples=300, deadline=None)
@given(value=VALUES, cuts=st.lists(st.integers(min_value=0), max_size=6))
def test_the_scan_finds_the_parsers_depth(value: Any, cuts: list[int]) -> None:
    body = json.dumps(value, ensure_ascii=False).encode()
    deepest = depth(value)
    assert passes(body, deepest, cuts)
    if deepest:
        assert not passes(body, deepest - 1, cuts)


def test_pairs_at_the_start_of_a_chunk_count_from_the_depth_before_it() -> None:
    # Found by the test above: "[" then "[{}]]" passed a limit of 2.
    assert not passes(b"[[{}]]", 2, [1])
    assert passes(b"[[{}]]", 3, [1])


def test_brackets_and_escapes_inside_strings_do_not_count() -> None:
    body = rb'[{"tag": "[[[{{{\"]]]\\", "x": "\\\\\"[["}]'
    assert json.loads(body)
    for cut in range(len(body) + 1):
        assert passes(body, 2, [cut])
        assert not passes(body, 1, [cut])


def test_a_flood_of_brackets_is_refused_at_the_limit() -> None:
    scanner = DepthScanner(32)
    assert not scanner.feed(b"[" * 1_000_000)
