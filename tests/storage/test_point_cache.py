"""The embedded store's point cache answers raw reads as DuckDB does, and never stale."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.storage.fixtures import new_series
from wattbase.model.points import SeriesPoints, WriteMode
from wattbase.model.query import TimeRange, ValueFilter
from wattbase.model.things import SeriesFilter
from wattbase.storage.base import NotInMemory
from wattbase.storage.embedded import FROM_MEMORY_POINTS, EmbeddedSession, EmbeddedStore
from wattbase.storage.embedded_point_cache import PointCache

BASE = 1_700_000_000_000_000
MINUTE = 60_000_000


@pytest.fixture
def cached(tmp_path: Path) -> Iterator[tuple[EmbeddedStore, int]]:
    store = EmbeddedStore(tmp_path / "wattbase.duckdb", cache_points=100_000)
    with store.write() as session:
        sid = new_series(session).sid
    try:
        yield store, sid
    finally:
        store.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    """One store for every example: 500 minutes written out of order, some stamps inside
    a second."""
    store = EmbeddedStore(tmp_path_factory.mktemp("cache") / "w.duckdb", cache_points=10_000)
    with store.write() as session:
        sid = new_series(session).sid
    assert sid == 1  # the examples read series 1
    rng = np.random.default_rng(3)
    ts = BASE + np.arange(500, dtype=np.int64) * MINUTE + rng.integers(0, 2, 500) * 250_000
    for part in np.array_split(rng.permutation(500), 5):
        chosen = np.sort(part)
        v = rng.normal(0, 1.5, len(chosen)).round(2)
        with store.write() as session:
            session.write_points([SeriesPoints(sid, ts[chosen], v)], WriteMode.INSERT)
    try:
        yield store
    finally:
        store.close()


def _read(store: EmbeddedStore, sid: int, limit: int = 10**6) -> tuple[np.ndarray, np.ndarray]:
    with store.read() as session:
        return session.read_points(sid, TimeRange(), ValueFilter(), limit)


def _from_duckdb(store: EmbeddedStore, sid: int, *args: object) -> tuple[np.ndarray, np.ndarray]:
    """The same read in a session without the cache: what DuckDB answers."""
    return EmbeddedSession(store._reader(), store._meta).read_points(sid, *args)  # type: ignore[arg-type]


def _held(store: EmbeddedStore, sid: int) -> bool:
    return store._points.get(sid) is not None


def _write(store: EmbeddedStore, sid: int, minutes: list[int], v: float, mode: WriteMode) -> None:
    ts = BASE + np.array(minutes, dtype=np.int64) * MINUTE
    with store.write() as session:
        session.write_points([SeriesPoints(sid, ts, np.full(len(ts), v))], mode)


def test_a_series_is_kept_on_its_second_read(cached: tuple[EmbeddedStore, int]) -> None:
    store, sid = cached
    _write(store, sid, list(range(0, 100)), 1.0, WriteMode.INSERT)
    _read(store, sid, limit=10)
    assert not _held(store, sid)
    _read(store, sid, limit=10)
    assert _held(store, sid)


def test_a_cached_series_is_answered_with_arrays_no_caller_can_change(
    cached: tuple[EmbeddedStore, int],
) -> None:
    store, sid = cached
    _write(store, sid, list(range(0, 100)), 1.0, WriteMode.INSERT)
    _read(store, sid)
    _read(store, sid)
    assert _held(store, sid)
    ts, v = _read(store, sid, limit=10)
    with pytest.raises(ValueError, match="read-only"):
        v[0] = 2.0
    with pytest.raises(ValueError, match="read-only"):
        ts += 1
    again_ts, again_v = _read(store, sid, limit=10)
    assert np.array_equal(again_ts, BASE + np.arange(10) * MINUTE)
    assert np.array_equal(again_v, np.ones(10))


@settings(max_examples=150, deadline=None)
@given(
    bounds=st.tuples(st.integers(-5, 1010), st.integers(-5, 1010)),
    ge=st.none() | st.floats(-3, 3),
    le=st.none() | st.floats(-3, 3),
    limit=st.integers(1, 700),
    descending=st.booleans(),
    inside_a_second=st.booleans(),
)
def test_cached_reads_answer_as_duckdb_does(
    shared: EmbeddedStore,
    bounds: tuple[int, int],
    ge: float | None,
    le: float | None,
    limit: int,
    descending: bool,
    inside_a_second: bool,
) -> None:
    # Ends on stored points and between them, in either order.
    start, end = (BASE + b * MINUTE // 2 + (250_000 if inside_a_second else 0) for b in bounds)
    args = (TimeRange(start, end), ValueFilter(ge=ge, le=le), limit, descending)
    _read(shared, 1)
    _read(shared, 1)
    assert _held(shared, 1)
    with shared.read() as session:
        ts, v = session.read_points(1, *args)
    expected_ts, expected_v = _from_duckdb(shared, 1, *args)
    assert np.array_equal(ts, expected_ts)
    assert np.array_equal(v, expected_v)


@pytest.mark.parametrize(
    "change",
    ["insert", "append", "update_window", "replace_window", "delete", "series"],
)
def test_every_change_is_seen_by_the_next_read(
    cached: tuple[EmbeddedStore, int], change: str
) -> None:
    store, sid = cached
    _write(store, sid, list(range(0, 100, 2)), 1.0, WriteMode.INSERT)
    _read(store, sid)
    _read(store, sid)
    assert _held(store, sid)
    if change == "insert":
        _write(store, sid, [1, 3], 2.0, WriteMode.INSERT)
    elif change == "append":
        _write(store, sid, [200], 2.0, WriteMode.INSERT)
    elif change == "update_window":
        _write(store, sid, [4, 6], 2.0, WriteMode.UPDATE_WINDOW)
    elif change == "replace_window":
        _write(store, sid, [10, 20], 2.0, WriteMode.REPLACE_WINDOW)
    elif change == "delete":
        with store.write() as session:
            session.delete_points(sid, TimeRange(BASE, BASE + 10 * MINUTE), ValueFilter())
    else:
        with store.write() as session:
            session.delete_series("d", next(iter(session.list_series("d", SeriesFilter()))).uuid)
    assert not _held(store, sid)
    ts, v = _read(store, sid)
    expected_ts, expected_v = _from_duckdb(store, sid, TimeRange(), ValueFilter(), 10**6, False)
    assert np.array_equal(ts, expected_ts)
    assert np.array_equal(v, expected_v)


def test_a_failed_write_still_drops_the_series(cached: tuple[EmbeddedStore, int]) -> None:
    store, sid = cached
    _write(store, sid, [0, 1], 1.0, WriteMode.INSERT)
    _read(store, sid)
    _read(store, sid)
    with pytest.raises(RuntimeError), store.write() as session:
        session.write_points(
            [SeriesPoints(sid, np.array([BASE]), np.array([5.0]))], WriteMode.UPDATE_WINDOW
        )
        raise RuntimeError("rolled back")
    assert not _held(store, sid)
    assert _read(store, sid)[1].tolist() == [1.0, 1.0]


def test_a_load_that_raced_a_commit_is_not_kept() -> None:
    cache = PointCache(100)
    generation = cache.generation(7)
    cache.changed([7])  # a write committed while the reader loaded the old points
    cache.offer(7, generation, np.array([1]), np.array([1.0]))
    assert cache.get(7) is None
    cache.offer(7, cache.generation(7), np.array([1]), np.array([2.0]))
    found = cache.get(7)
    assert found is not None and found[1].tolist() == [2.0]


def test_room_is_kept_by_dropping_the_least_recently_read() -> None:
    cache = PointCache(100)
    for sid in (1, 2, 3, 4):
        cache.offer(sid, 0, np.arange(25), np.zeros(25))
    cache.get(1)
    cache.offer(5, 0, np.arange(25), np.zeros(25))
    assert [sid for sid in (1, 2, 3, 4, 5) if cache.get(sid) is not None] == [1, 3, 4, 5]
    cache.offer(6, 0, np.arange(26), np.zeros(26))  # over a quarter of the room
    assert cache.get(6) is None


def test_too_large_a_series_is_not_loaded_again(cached: tuple[EmbeddedStore, int]) -> None:
    store, sid = cached
    store._points = PointCache(40)
    _write(store, sid, list(range(11)), 1.0, WriteMode.INSERT)
    for _ in range(3):
        assert len(_read(store, sid)[0]) == 11
    assert not _held(store, sid)
    assert not store._points.wanted(sid)


def test_a_read_after_an_acknowledged_write_sees_it(cached: tuple[EmbeddedStore, int]) -> None:
    """Writers overwrite ten points with a rising value; a read begun after a write was
    answered must never find a value below it."""
    store, sid = cached
    minutes = list(range(10))
    _write(store, sid, minutes, 0.0, WriteMode.INSERT)
    cache, hits = store._points, [0]
    get = cache.get

    def counted(sid: int) -> tuple[np.ndarray, np.ndarray] | None:
        found = get(sid)
        hits[0] += found is not None
        return found

    cache.get = counted  # type: ignore[method-assign]
    acked = [0]
    stop = threading.Event()
    stale: list[tuple[float, float]] = []

    def reader() -> None:
        while not stop.is_set():
            floor = acked[0]
            lowest = float(_read(store, sid)[1].min())
            if lowest < floor:
                stale.append((lowest, floor))

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for k in range(1, 150):
            _write(store, sid, minutes, float(k), WriteMode.UPDATE_WINDOW)
            acked[0] = k
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert stale == []
    assert hits[0] > 0  # the readers did read from the cache between the writes


def test_a_series_loaded_before_waits_for_more_reads_after_a_change() -> None:
    cache = PointCache(1_000_000)
    assert [cache.wanted(1) for _ in range(2)] == [False, True]
    cache.offer(1, cache.generation(1), np.arange(250_000), np.zeros(250_000))
    cache.changed([1])
    # Two reads, and one more for each 100,000 points it had.
    assert [cache.wanted(1) for _ in range(5)] == [False, False, False, True, True]


def _from_memory(store: EmbeddedStore, sid: int) -> tuple[np.ndarray, np.ndarray]:
    with store.read_from_memory() as session:
        return session.read_points(sid, TimeRange(BASE, BASE + 50 * MINUTE), ValueFilter(), 100)


def test_a_memory_read_answers_from_the_cache_or_refuses(
    cached: tuple[EmbeddedStore, int],
) -> None:
    store, sid = cached
    _write(store, sid, list(range(0, 100)), 1.0, WriteMode.INSERT)
    _read(store, sid)  # the first miss
    # Refused, and not counted as a miss: the next read would load the series a read early.
    for _ in range(3):
        with pytest.raises(NotInMemory):
            _from_memory(store, sid)
    assert store._points._missed[sid][1] == 1
    assert not _held(store, sid)
    _read(store, sid)
    assert _held(store, sid)
    ts, v = _from_memory(store, sid)
    with store.read() as session:
        want = session.read_points(sid, TimeRange(BASE, BASE + 50 * MINUTE), ValueFilter(), 100)
    assert ts.tolist() == want[0].tolist() and v.tolist() == want[1].tolist()
    assert len(ts) == 50
    # A write drops the series; so the next memory read is refused, not stale.
    _write(store, sid, [10], 2.0, WriteMode.UPDATE_WINDOW)
    with pytest.raises(NotInMemory):
        _from_memory(store, sid)
    # So is a read of more points than it answers at once.
    _write(store, sid, list(range(100, 100 + FROM_MEMORY_POINTS)), 3.0, WriteMode.INSERT)
    _read(store, sid)
    _read(store, sid)
    assert _held(store, sid)
    with store.read_from_memory() as session:
        assert len(session.read_points(sid, TimeRange(), ValueFilter(), 20_000)[0]) == 20_000
    with store.read_from_memory() as session, pytest.raises(NotInMemory):
        session.read_points(sid, TimeRange(), ValueFilter(), 20_001)
    # Over all the reads of the session (a tsquery reads many series).
    with store.read_from_memory() as session:
        session.read_points(sid, TimeRange(), ValueFilter(), 15_000)
        with pytest.raises(NotInMemory):
            session.read_points(sid, TimeRange(), ValueFilter(), 5_001)
    # Anything else a session would ask DuckDB for is refused too.
    with store.read_from_memory() as session, pytest.raises(NotInMemory):
        session.point_span(sid)
    with store.read_from_memory() as session, pytest.raises(NotInMemory):
        session.list_series("nobody", SeriesFilter())
