"""Embedded and PostgreSQL give the same answers on the same data: every precision,
aggregate and time zone, bucket for bucket, and the same counts for every write."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from tests.conftest import clean_database, settings_for
from wattbase.core.buckets import plan_buckets
from wattbase.model.points import SeriesPoints, WriteMode
from wattbase.model.query import Aggregate, Precision, TimeRange, ValueFilter
from wattbase.storage import open_store
from wattbase.storage.base import Store
from wattbase.storage.embedded import EmbeddedStore

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Whole-hour DST (Stockholm), half-hour offsets (Kolkata), a half-hour DST step (Lord Howe),
# negative offsets with DST (St John's), and local mean time before 1900 (Stockholm again).
ZONES = ["UTC", "Europe/Stockholm", "Asia/Kolkata", "Australia/Lord_Howe", "America/St_Johns"]
SPANS = [
    TimeRange(),
    TimeRange(start=1_679_788_800_000_000, end=1_698_537_600_000_000),  # 2023-03-26..10-29
]
FILTERS = [ValueFilter(), ValueFilter(ge=-10.0, le=20.0), ValueFilter(ge=20.0, le=-10.0)]


def _micros(*when: int) -> int:
    return int((datetime(*when, tzinfo=UTC) - EPOCH).total_seconds()) * 10**6  # type: ignore[misc]


def sample() -> tuple[np.ndarray, np.ndarray]:
    """1890-2110, dense across 2023's DST changes, month and year ends, sub-millisecond."""
    rng = np.random.default_rng(11)
    spread = rng.integers(_micros(1890, 1, 1), _micros(2110, 1, 1), 400)
    dense = [
        _micros(*day) + np.arange(0, 3 * 86_400, 300, dtype=np.int64) * 10**6
        for day in ((2023, 3, 25), (2023, 10, 28), (2023, 12, 30), (2024, 2, 28))
    ]
    fine = _micros(2023, 6, 1) + np.array([0, 1, 2, 999, 1000, 1500, 10**6 - 1], dtype=np.int64)
    ts = np.unique(np.concatenate([spread, *dense, fine]))
    # Values on a 1/8 grid: sums are exact whatever order a database adds them in.
    v = rng.integers(-400, 400, len(ts)).astype(np.float64) / 8
    return ts, v


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, pg_database: str) -> Iterator[list[Store]]:
    clean_database(pg_database)
    folder: Path = tmp_path_factory.mktemp("equivalence")
    opened = [open_store(settings_for(b, folder)) for b in ("embedded", "postgres")]
    ts, v = sample()
    try:
        for store in opened:
            with store.write() as session:
                session.write_points([SeriesPoints(1, ts, v)], WriteMode.INSERT)
                session.write_points([SeriesPoints(2, ts[::7], v[::7] * 2)], WriteMode.INSERT)
            if isinstance(store, EmbeddedStore):
                # Bucketed reads of whole hours then go through the hourly rollups.
                assert store.roll_hours() == 2
        yield opened
    finally:
        for store in opened:
            store.close()


def _both(stores: list[Store], method: str, *args: object) -> list[object]:
    answers = []
    for store in stores:
        with store.read() as session:
            answers.append(getattr(session, method)(*args))
    return answers


def _same(answers: list[object]) -> None:
    embedded, postgres = answers
    assert isinstance(embedded, tuple) and isinstance(postgres, tuple)
    for mine, theirs in zip(embedded, postgres, strict=True):
        assert mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("precision", list(Precision))
def test_every_precision_aggregate_and_zone(
    stores: list[Store], precision: Precision, zone: str
) -> None:
    ts, _ = sample()
    for span in SPANS:
        lo = int(ts[0]) if span.start is None else span.start
        hi = int(ts[-1]) if span.end is None else span.end - 1
        plan = plan_buckets(precision, ZoneInfo(zone), lo, hi)
        # Every aggregate unfiltered; the value filters (a HAVING on the aggregate) once.
        asked = [(a, ValueFilter()) for a in Aggregate]
        asked += [(Aggregate.AVG, values) for values in FILTERS[1:]]
        for aggregate, values in asked:
            answers = _both(stores, "aggregate_points", 1, span, plan, aggregate, values)
            _same(answers)
            if values == ValueFilter():
                assert len(answers[0][0]) > 0  # type: ignore[index]


def test_raw_reads_and_spans(stores: list[Store]) -> None:
    for span in SPANS:
        for values in FILTERS:
            for descending in (False, True):
                _same(_both(stores, "read_points", 1, span, values, 500, descending))
        _same(_both(stores, "read_points_many", [1, 2], span, 300, False, None))
        _same(_both(stores, "read_points_many", [2, 1], span, 300, True, (_micros(2023, 7, 1), 1)))
        assert len(set(_both(stores, "count_points_many", [1, 2], span))) == 1
    assert len(set(_both(stores, "point_span", 2))) == 1


def test_write_modes_count_the_same(stores: list[Store]) -> None:
    """The same writes, in order, on fresh series: the same counts and the same points."""
    ts = _micros(2023, 10, 29) + np.arange(0, 200, dtype=np.int64) * 60 * 10**6
    writes = [
        (WriteMode.INSERT, ts[::2], np.ones(100)),
        (WriteMode.INSERT, ts[:50], np.arange(50.0)),
        (WriteMode.UPDATE_WINDOW, ts[40:120], np.full(80, 3.0)),
        (WriteMode.REPLACE_WINDOW, ts[100:150:5], np.full(10, 4.0)),
        (WriteMode.UPDATE_WINDOW, ts[::3], np.full(67, 3.0)),
    ]
    reports: list[list[dict[int, object]]] = [[], []]
    for store, report in zip(stores, reports, strict=True):
        for mode, stamps, values in writes:
            with store.write() as session:
                batch = SeriesPoints(10, stamps, values, window=(int(stamps[0]) - 1, int(ts[-1])))
                report.append(session.write_points([batch], mode))
    assert reports[0] == reports[1]
    _same(_both(stores, "read_points", 10, TimeRange(), ValueFilter(), 10_000))
    assert len(set(_both(stores, "delete_points", 10, TimeRange(), ValueFilter(ge=3.5)))) == 1


def test_appends_and_writes_at_the_last_point_count_the_same(stores: list[Store]) -> None:
    """PostgreSQL copies pure appends straight in: its boundary (a batch starting at the
    series' last point) and mixed batches (one series appends, one does not) must agree."""
    ts = _micros(2024, 3, 1) + np.arange(0, 100, dtype=np.int64) * 60 * 10**6
    writes = [
        (WriteMode.INSERT, [(20, ts[:40], np.ones(40)), (21, ts[:10], np.ones(10))]),
        (WriteMode.INSERT, [(20, ts[40:60], np.full(20, 2.0))]),
        (WriteMode.INSERT, [(20, ts[59:70], np.full(11, 5.0))]),
        (WriteMode.UPDATE_WINDOW, [(20, ts[69:80], np.full(11, 6.0))]),
        (
            WriteMode.UPDATE_WINDOW,
            [(20, ts[80:90], np.full(10, 7.0)), (21, ts[5:20], ts[5:20] / 1e6)],
        ),
        (WriteMode.UPDATE_WINDOW, [(20, ts[90:], np.full(10, 8.0)), (21, ts[20:30], np.zeros(10))]),
    ]
    reports: list[list[dict[int, object]]] = [[], []]
    for store, report in zip(stores, reports, strict=True):
        for mode, batches in writes:
            with store.write() as session:
                report.append(
                    session.write_points([SeriesPoints(s, t, v) for s, t, v in batches], mode)
                )
    assert reports[0] == reports[1]
    for sid in (20, 21):
        _same(_both(stores, "read_points", sid, TimeRange(), ValueFilter(), 10_000))
