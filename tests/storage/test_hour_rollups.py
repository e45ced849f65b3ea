"""Hourly rollups stay equal to the points under every kind of change, on both stores, and
bucketed reads through them give what the raw points give."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import BACKENDS, _test_database, clean_database, settings_for
from wattbase.core.buckets import bucket_instants, plan_buckets
from wattbase.core.clock import local_to_instant, zone
from wattbase.model.points import SeriesPoints, WriteMode
from wattbase.model.query import Aggregate, BucketPlan, Precision, TimeRange, ValueFilter
from wattbase.storage import open_store
from wattbase.storage.base import Session, Store
from wattbase.storage.embedded import EmbeddedStore

HOUR = 3_600_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICRO = timedelta(microseconds=1)
# 2023-03-26 00:00Z: Stockholm moves its clocks at 01:00Z, inside the stamps below.
BASE = 1_679_788_800_000_000
# Three hours of 20-minute steps either side of BASE, and a few sub-second and pre-1970 ones.
STAMPS = st.one_of(
    st.integers(min_value=-9, max_value=9).map(lambda i: BASE + i * 1_200_000_000),
    st.sampled_from([BASE + 1, BASE - 1, BASE + HOUR - 1, -HOUR - 1, -1, 0]),
)
VALUES = st.integers(min_value=-40, max_value=40).map(lambda i: i / 8)
POINTS = st.lists(st.tuples(STAMPS, VALUES), min_size=0, max_size=10)
WRITE = st.tuples(
    st.just("write"), st.sampled_from(list(WriteMode)), st.sampled_from([0, 1]), POINTS
)
DELETE = st.tuples(
    st.just("delete"),
    st.sampled_from([None, ValueFilter(ge=0.0), ValueFilter(ge=1.0, le=-1.0)]),
    st.sampled_from([0, 1]),
    st.tuples(STAMPS, STAMPS),
)
ROLL = st.tuples(st.just("roll"))
OPS = st.lists(st.one_of(WRITE, WRITE, DELETE, ROLL), min_size=1, max_size=8)
SIDS = itertools.count(1, 2)
CASES = [
    (Precision.HOUR, "UTC"),
    (Precision.HOUR, "Europe/Stockholm"),
    (Precision.DAY, "Europe/Stockholm"),
    (Precision.MONTH, "Europe/Stockholm"),
    (Precision.HOUR, "Asia/Kolkata"),
]


@pytest.fixture(scope="module", params=BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    backend = str(request.param)
    if backend == "postgres":
        clean_database(request.getfixturevalue("pg_database"))
    opened = open_store(settings_for(backend, tmp_path_factory.mktemp("rollups")))
    yield opened
    opened.close()


def _roll(store: Store) -> None:
    """The embedded store rolls up when writes pause; PostgreSQL in every write."""
    if isinstance(store, EmbeddedStore):
        store.roll_hours()


def _batch(sid: int, points: list[tuple[int, float]]) -> SeriesPoints:
    stored = dict(points)  # the last value of a timestamp wins, as the write engine does
    ts = np.array(sorted(stored), dtype=np.int64)
    v = np.array([stored[t] for t in ts.tolist()], dtype=np.float64)
    window = (min(t for t, _ in points), max(t for t, _ in points)) if points else None
    return SeriesPoints(sid, ts, v, window)


TRUTH = (
    "SELECT sid, ts - ((ts % 3600000000) + 3600000000) % 3600000000 AS hour, "
    "count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi FROM points GROUP BY 1, 2"
)


def _rollup_and_truth(store: Store) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The rollup's rows, and what they must be: every hour of points (on the embedded
    store, every hour before each series' mark)."""
    kept_sql = "SELECT sid, hour, n, total, lo, hi FROM point_hours ORDER BY sid, hour"
    if isinstance(store, EmbeddedStore):
        cursor = store._db.cursor()
        try:
            kept = cursor.execute(kept_sql).fetchall()
            # The embedded store sums an hour with compensation (see embedded_rollups).
            compensated = TRUTH.replace("sum(v)", "fsum(v)")
            truth = cursor.execute(
                f"SELECT h.* FROM ({compensated}) h JOIN rollup_marks m USING (sid) "
                "WHERE h.hour < m.rolled_to ORDER BY sid, hour"
            ).fetchall()
        finally:
            cursor.close()
        return kept, truth
    with psycopg.connect(_test_database["url"]) as conn:
        kept = [tuple(r) for r in conn.execute(kept_sql).fetchall()]
        truth = conn.execute(f"{TRUTH} ORDER BY 1, 2").fetchall()
        return kept, [tuple(r) for r in truth]


def _reference(
    ts: np.ndarray, v: np.ndarray, plan: BucketPlan, tz: ZoneInfo, aggregate: Aggregate
) -> tuple[list[int], list[float]]:
    """Buckets of the raw points, one point at a time, with the standard library's clock."""
    buckets: dict[int, list[float]] = {}
    for t, x in zip(ts.tolist(), v.tolist(), strict=True):
        buckets.setdefault(_bucket_start(plan, t, tz), []).append(x)
    reduce: dict[Aggregate, Callable[[list[float]], float]] = {
        Aggregate.AVG: lambda xs: sum(xs) / len(xs),
        Aggregate.MIN: min,
        Aggregate.MAX: max,
        Aggregate.SUM: sum,
        Aggregate.COUNT: lambda xs: float(len(xs)),
    }
    keys = sorted(buckets)
    return keys, [reduce[aggregate](buckets[k]) for k in keys]


def _bucket_start(plan: BucketPlan, t: int, tz: ZoneInfo) -> int:
    if plan.calendar_unit is None and not plan.offsets:
        return t - (t - plan.origin) % plan.width  # fixed lengths of real time
    here = (EPOCH + timedelta(microseconds=t)).astimezone(tz).replace(tzinfo=None)
    if plan.calendar_unit == "month":
        here = here.replace(day=1)
    midnight = here.replace(hour=0, minute=0, second=0, microsecond=0)
    return local_to_instant(tz, (midnight - EPOCH.replace(tzinfo=None)) // MICRO)


def _apply(session: Session, op: tuple[object, ...], first: int) -> None:
    if op[0] == "write":
        _, mode, which, points = op
        batch = _batch(first + which, points)  # type: ignore[operator, arg-type]
        session.write_points([batch], mode)  # type: ignore[arg-type]
    else:
        _, values, which, (a, b) = op
        where = TimeRange(start=min(a, b), end=max(a, b) + 1)  # type: ignore[call-overload]
        session.delete_points(first + which, where, values or ValueFilter())  # type: ignore[operator, arg-type]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=OPS, span=st.tuples(STAMPS, STAMPS), grouped=st.booleans())
def test_rollups_follow_every_change_and_reads_match_the_points(
    store: Store, ops: list[tuple[object, ...]], span: tuple[int, int], grouped: bool
) -> None:
    # New series each time: the writer's memory of their last points starts empty, so
    # appends (into a new hour or the last one) happen as often as rewrites.
    first = next(SIDS)
    # Grouped: the changes between two roll-ups go in as one job of a group commit, whose
    # session (on the embedded store) holds appends back until something reads points.
    runs = [[op] for op in ops]
    if grouped:
        runs = [list(run) for roll, run in itertools.groupby(ops, lambda op: op[0] == "roll")]
    for run in runs:
        if run[0][0] == "roll":
            _roll(store)
            continue
        if grouped:
            store.write_grouped(lambda s, run=run: [_apply(s, op, first) for op in run], 1)
        else:
            with store.write() as session:
                _apply(session, run[0], first)
        kept, truth = _rollup_and_truth(store)
        assert kept == truth, run
    lo, hi = min(span), max(span) + 1
    with store.read() as session:
        ts, v = session.read_points(first + 1, TimeRange(start=lo, end=hi), ValueFilter(), 10_000)
        for precision, tz_name in CASES:
            tz = zone(tz_name)
            plan = plan_buckets(precision, tz, lo, hi - 1)
            for aggregate in Aggregate:
                keys, got = session.aggregate_points(
                    first + 1, TimeRange(start=lo, end=hi), plan, aggregate, ValueFilter()
                )
                want_keys, want = _reference(ts, v, plan, tz, aggregate)
                assert bucket_instants(plan, keys, tz).tolist() == want_keys
                assert got.tolist() == pytest.approx(want)


def _reopened_as_before(
    store: EmbeddedStore, tmp_path: Path, version: int, undo: str
) -> EmbeddedStore:
    """The store as a version without migration ``version`` (and those after it) would have
    left it, ``undo`` turning the tables back, opened again."""
    cursor = store._db.cursor()
    cursor.execute(undo)
    cursor.execute("DELETE FROM schema_migrations WHERE version >= ?", [version])
    cursor.close()
    store.close()
    reopened = open_store(settings_for("embedded", tmp_path))
    assert isinstance(reopened, EmbeddedStore)
    return reopened


def test_a_store_from_before_rollups_gets_them_filled(tmp_path: Path) -> None:
    store = open_store(settings_for("embedded", tmp_path))
    ts = BASE + np.arange(0, 7_260, 60, dtype=np.int64) * 1_000_000
    with store.write() as session:
        session.write_points([SeriesPoints(1, ts, np.ones(len(ts)))], WriteMode.INSERT)
    assert isinstance(store, EmbeddedStore)
    store = _reopened_as_before(
        store, tmp_path, 5, "DROP TABLE point_hours; DROP TABLE rollup_marks"
    )
    try:
        # The idle checkpoint rolls them up a second after start, writes or none.
        assert store.checkpoints.due(time.monotonic() + 2)
        assert store.roll_hours() == 1
        kept, truth = _rollup_and_truth(store)
        assert kept == truth
        # The hour of the last point is rolled up too.
        assert [row[2] for row in kept] == [60, 60, 1]
    finally:
        store.close()


def test_a_store_with_hours_in_microseconds_keeps_its_rollup(tmp_path: Path) -> None:
    store = open_store(settings_for("embedded", tmp_path))
    # Before 1970 and after: negative hour numbers divide exactly too.
    before_1970 = -2 * HOUR + np.arange(0, 7_200, 600, dtype=np.int64) * 1_000_000
    ts = np.r_[before_1970, BASE + np.arange(0, 7_260, 60, dtype=np.int64) * 1_000_000]
    values = np.linspace(-3.5, 9.25, len(ts)).round(2)
    with store.write() as session:
        session.write_points([SeriesPoints(1, ts, values)], WriteMode.INSERT)
    assert isinstance(store, EmbeddedStore)
    store.roll_hours()
    before, _ = _rollup_and_truth(store)
    # The rollup as migration 5 made it: hour starts in microseconds, stored.
    store = _reopened_as_before(
        store,
        tmp_path,
        7,
        "CREATE TABLE old_hours AS SELECT sid, hour, n, total, lo, hi FROM point_hours; "
        "DROP TABLE point_hours; ALTER TABLE old_hours RENAME TO point_hours",
    )
    try:
        kept, truth = _rollup_and_truth(store)
        assert kept == before == truth
        assert {row[1] for row in kept} >= {-2 * HOUR, -HOUR, BASE, BASE + HOUR}
        columns = store._db.cursor().execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'point_hours'"
        )
        assert [c for (c,) in columns.fetchall()] == ["sid", "h", "n", "total", "lo", "hi", "hour"]
        # Reads of whole hours take the migrated rows: the points are gone from under them.
        cursor = store._db.cursor()
        cursor.execute("DELETE FROM points")
        cursor.close()
        plan = plan_buckets(Precision.HOUR, zone("UTC"), int(ts[0]), int(ts[-1]))
        with store.read() as session:
            keys, sums = session.aggregate_points(
                1, TimeRange(-2 * HOUR, BASE + 3 * HOUR), plan, Aggregate.SUM, ValueFilter()
            )
        assert keys.tolist() == [row[1] for row in kept]
        assert sums.tolist() == [row[3] for row in kept]
    finally:
        store.close()


def test_appends_merge_into_their_hours(store: Store) -> None:
    sid = next(SIDS)
    for minutes in ([0, 20], [40, 50], [70], [200, 260]):
        ts = BASE + np.array(minutes, dtype=np.int64) * 60_000_000
        with store.write() as session:
            session.write_points([SeriesPoints(sid, ts, np.ones(len(ts)))], WriteMode.INSERT)
        _roll(store)
        kept, truth = _rollup_and_truth(store)
        assert kept == truth
    # Each append but the first began in the hour the roll before it closed: the embedded
    # store rolls up a series' last hour too, and recomputes it when more points come.
    hours = [(BASE, 4), (BASE + HOUR, 1), (BASE + 3 * HOUR, 1), (BASE + 4 * HOUR, 1)]
    assert [(row[1], row[2]) for row in kept if row[0] == sid] == hours


def _change(kind: str, sid: int) -> Callable[[Session], object]:
    twice = np.array([BASE + 10 * 60_000_000, BASE + 70 * 60_000_000])
    changes: dict[str, Callable[[Session], object]] = {
        "delete": lambda s: s.delete_points(sid, TimeRange(BASE, BASE + HOUR), ValueFilter()),
        "delete_values": lambda s: s.delete_points(sid, TimeRange(), ValueFilter(ge=0.0)),
        "replace_window": lambda s: s.write_points(
            [SeriesPoints(sid, twice, np.array([-1.0, -2.0]))], WriteMode.REPLACE_WINDOW
        ),
        "update_window": lambda s: s.write_points(
            [SeriesPoints(sid, twice, np.array([-1.0, -2.0]))], WriteMode.UPDATE_WINDOW
        ),
        "insert_into_the_past": lambda s: s.write_points(
            [SeriesPoints(sid, twice - 60_000_000, np.array([-1.0, -2.0]))], WriteMode.INSERT
        ),
    }
    return changes[kind]


@pytest.mark.parametrize(
    "kind",
    [
        "delete",
        "delete_values",
        "replace_window",
        "update_window",
        "insert_into_the_past",
    ],
)
def test_every_change_to_rolled_hours_recomputes_them(store: Store, kind: str) -> None:
    sid = next(SIDS)
    ts = BASE + np.arange(0, 4 * HOUR, 1_200_000_000, dtype=np.int64)
    values = np.where(np.arange(len(ts)) % 2 == 0, 1.0, -1.0)
    with store.write() as session:
        session.write_points([SeriesPoints(sid, ts, values)], WriteMode.INSERT)
    _roll(store)
    before, _ = _rollup_and_truth(store)
    with store.write() as session:
        _change(kind, sid)(session)
    kept, truth = _rollup_and_truth(store)
    assert kept == truth
    assert kept != before
