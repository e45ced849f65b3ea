"""Group commit on both backends: point writes that queue up behind a transaction share the
next one, each caller gets its own result after the commit, and one failing write fails
alone. On the embedded store, a group's appends wait for one INSERT."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.storage.fixtures import new_series
from wattbase.model.points import SeriesPoints, WriteMode
from wattbase.model.query import TimeRange, ValueFilter
from wattbase.storage.base import Session, Store
from wattbase.storage.embedded import EmbeddedSession, EmbeddedStore
from wattbase.storage.embedded_schema import transaction
from wattbase.storage.group_commit import MOST_JOBS, MOST_POINTS, GroupCommit


class Boom(Exception):
    pass


def _points(sid: int, first: int, n: int = 3) -> SeriesPoints:
    ts = np.arange(first, first + n, dtype=np.int64) * 1_000_000
    return SeriesPoints(sid=sid, ts=ts, v=np.full(n, float(first)))


def _queue_behind_one(
    group: GroupCommit, jobs: Sequence[Callable[[Session], Any]], points: list[int] | None = None
) -> tuple[list[Any], Session]:
    """Run ``jobs`` (of ``points`` points each, 3 unless given) at once while a first job
    holds the group's transaction open: the small ones queue and go in together. The
    outcome of each (result or error) with the first job's last, and the first job's
    session."""
    sizes = points or [3] * len(jobs)
    entered, release = threading.Event(), threading.Event()
    outcomes: list[Any] = [None] * (len(jobs) + 1)
    sessions: list[Any] = []

    def first(session: Session) -> str:
        sessions.append(session)
        entered.set()
        assert release.wait(30)
        return "first"

    def call(i: int, job: Callable[[Session], Any], size: int = 3) -> None:
        try:
            outcomes[i] = group.run(job, size)
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes[i] = exc

    threads = [threading.Thread(target=call, args=(len(jobs), first))]
    threads[0].start()
    assert entered.wait(30)
    threads += [
        threading.Thread(target=call, args=(i, job, size))
        for i, (job, size) in enumerate(zip(jobs, sizes, strict=True))
    ]
    for t in threads[1:]:
        t.start()
    deadline = time.monotonic() + 30
    while group.waiting < sum(size <= MOST_POINTS for size in sizes):
        assert time.monotonic() < deadline, "the jobs never queued"
        time.sleep(0.005)
    release.set()
    for t in threads:
        t.join(30)
    return outcomes, sessions[0]


def test_queued_writes_share_one_transaction_and_each_gets_its_result(store: Store) -> None:
    with store.write() as session:
        series = new_series(session)
    group = GroupCommit(store.write)
    seen: list[Session] = []

    def job(first: int) -> Callable[[Session], Any]:
        def write(session: Session) -> int:
            seen.append(session)
            return (
                session.write_points([_points(series.sid, first)], WriteMode.INSERT)[
                    series.sid
                ].inserted
                + first
            )

        return write

    outcomes, first = _queue_behind_one(group, [job(100), job(200), job(300)])

    assert outcomes == [103, 203, 303, "first"]
    # The three queued jobs ran in one session, not the first job's.
    assert len(seen) == 3 and seen[0] is seen[1] is seen[2] and seen[0] is not first
    with store.read() as session:
        ts, _ = session.read_points(series.sid, TimeRange(), ValueFilter(), 100)
    assert sorted(ts // 1_000_000) == [100, 101, 102, 200, 201, 202, 300, 301, 302]


def test_a_failing_write_fails_alone_and_the_others_are_stored_once(store: Store) -> None:
    with store.write() as session:
        series = new_series(session)
    group = GroupCommit(store.write)
    runs: list[int] = []

    def job(first: int, fail: bool = False) -> Callable[[Session], Any]:
        def write(session: Session) -> str:
            runs.append(first)
            session.write_points([_points(series.sid, first)], WriteMode.INSERT)
            if fail:
                raise Boom(f"job {first}")
            return f"stored {first}"

        return write

    outcomes, _ = _queue_behind_one(group, [job(100), job(200, fail=True), job(300)])

    assert outcomes[0] == "stored 100" and outcomes[2] == "stored 300"
    assert isinstance(outcomes[1], Boom) and str(outcomes[1]) == "job 200"
    # Together up to the failure, which rolled that back; then each alone.
    assert runs == [100, 200, 100, 200, 300]
    with store.read() as session:
        ts, _ = session.read_points(series.sid, TimeRange(), ValueFilter(), 100)
    assert sorted(ts // 1_000_000) == [100, 101, 102, 300, 301, 302]


def test_a_lone_job_runs_once_and_its_error_reaches_its_caller(store: Store) -> None:
    group = GroupCommit(store.write)
    runs: list[int] = []

    def failing(session: Session) -> None:
        runs.append(1)
        raise Boom("alone")

    with pytest.raises(Boom, match="alone"):
        group.run(failing, 3)
    assert runs == [1]
    assert group.run(lambda session: session.get_domain("nobody"), 3) is None


def test_more_waiting_jobs_than_a_group_holds_all_get_their_own_result(store: Store) -> None:
    group = GroupCommit(store.write)
    count = MOST_JOBS + 8
    jobs = [lambda session, i=i: i for i in range(count)]

    outcomes, _ = _queue_behind_one(group, jobs)

    assert outcomes == [*range(count), "first"]


def _noting(seen: dict[str, Session]) -> Callable[[str], Callable[[Session], str]]:
    """Jobs that note the session they ran in under their name, and return the name."""

    def job(name: str) -> Callable[[Session], str]:
        def write(session: Session) -> str:
            seen[name] = session
            return name

        return write

    return job


def test_a_large_write_runs_alone(store: Store) -> None:
    group = GroupCommit(store.write)
    seen: dict[str, Session] = {}
    job = _noting(seen)

    outcomes, _ = _queue_behind_one(
        group, [job("small"), job("large"), job("also small")], [3, MOST_POINTS + 1, 3]
    )

    assert outcomes == ["small", "large", "also small", "first"]
    assert seen["small"] is seen["also small"] and seen["large"] is not seen["small"]


def test_a_group_holds_at_most_most_points(store: Store) -> None:
    group = GroupCommit(store.write)
    seen: dict[str, Session] = {}
    job = _noting(seen)

    half, over_half = MOST_POINTS // 2, MOST_POINTS // 2 + 1
    outcomes, _ = _queue_behind_one(group, [job("a"), job("b")], [half, half])
    assert outcomes == ["a", "b", "first"]
    assert seen["a"] is seen["b"]

    seen.clear()
    outcomes, _ = _queue_behind_one(
        group, [job("a"), job("b"), job("c")], [over_half, over_half, 3]
    )
    assert outcomes == ["a", "b", "c", "first"]
    # In whichever order they queued, a and b do not fit in one group; c fits with either.
    assert seen["a"] is not seen["b"] and seen["c"] in (seen["a"], seen["b"])


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedStore]:
    store = EmbeddedStore(tmp_path / "wattbase.duckdb")
    try:
        yield store
    finally:
        store.close()


def _stored_rows(session: Session, sid: int) -> int:
    """Rows of ``sid`` in the points table as the session's own statements see them."""
    assert isinstance(session, EmbeddedSession)
    rows = session._cur.execute("SELECT count(*) FROM points WHERE sid = ?", [sid]).fetchall()
    return int(rows[0][0])


def test_a_groups_appends_wait_for_one_insert_and_reads_see_them(embedded: EmbeddedStore) -> None:
    with embedded.write() as session:
        a, b = new_series(session), new_series(session, "e")

    def job(session: Session) -> tuple[int, list[int], int, int, int]:
        session.write_points([_points(a.sid, 100), _points(b.sid, 100)], WriteMode.INSERT)
        held = _stored_rows(session, a.sid)
        # A read inserts what waits first.
        ts, _ = session.read_points(b.sid, TimeRange(), ValueFilter(), 100)
        session.write_points([_points(a.sid, 200)], WriteMode.INSERT)
        held_again = _stored_rows(session, a.sid)
        # So does a write that overlaps it, so that the merge finds it.
        counts = session.write_points(
            [SeriesPoints(a.sid, np.array([201, 300]) * 1_000_000, np.array([7.0, 1.0]))],
            WriteMode.UPDATE_WINDOW,
        )[a.sid]
        return held, (ts // 1_000_000).tolist(), held_again, counts.updated, counts.inserted

    assert embedded.write_grouped(job, 9) == (0, [100, 101, 102], 3, 1, 1)
    with embedded.read() as session:
        ts, v = session.read_points(a.sid, TimeRange(), ValueFilter(), 100)
    assert (ts // 1_000_000).tolist() == [100, 101, 102, 200, 201, 202, 300]
    assert v.tolist() == [100.0, 100.0, 100.0, 200.0, 7.0, 200.0, 1.0]


def test_a_plain_write_inserts_at_once(embedded: EmbeddedStore) -> None:
    with embedded.write() as session:
        series = new_series(session)
        session.write_points([_points(series.sid, 100)], WriteMode.INSERT)
        assert _stored_rows(session, series.sid) == 3


def test_a_groups_appends_go_in_in_time_order(embedded: EmbeddedStore) -> None:
    with embedded.write() as session:
        series = new_series(session)
        session.write_points([_points(series.sid, 10)], WriteMode.INSERT)

    def job(session: Session) -> list[int]:
        inserted = []
        # Later first, then earlier, then one overlapping what waits.
        for first in (300, 200, 100, 201):
            counts = session.write_points([_points(series.sid, first)], WriteMode.INSERT)
            inserted.append(counts[series.sid].inserted)
        return inserted

    assert embedded.write_grouped(job, 12) == [3, 3, 3, 1]
    cursor = embedded._db.cursor()
    rows = cursor.execute(
        "SELECT ts_s FROM points WHERE sid = ? ORDER BY rowid", [series.sid]
    ).fetchall()
    cursor.close()
    # The overlapping write merged after the flush: its one new point comes last.
    stored = [r[0] for r in rows]
    assert stored == [10, 11, 12, 100, 101, 102, 200, 201, 202, 300, 301, 302, 203]


def test_a_groups_last_insert_carries_its_commit(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "wattbase.duckdb")
    with store.write() as session:
        series = new_series(session)

    def job(session: Session) -> int:
        return session.write_points([_points(series.sid, 100)], WriteMode.INSERT)[
            series.sid
        ].inserted

    assert [store.write_grouped(job, 3) for _ in range(2)] == [3, 0]
    store.close()
    # Committed, not left in an open transaction that closing would roll back.
    reopened = EmbeddedStore(tmp_path / "wattbase.duckdb")
    try:
        with reopened.read() as session:
            ts, _ = session.read_points(series.sid, TimeRange(), ValueFilter(), 100)
        assert (ts // 1_000_000).tolist() == [100, 101, 102]
    finally:
        reopened.close()


def test_a_failure_after_a_bodys_own_commit_is_the_error_raised(
    embedded: EmbeddedStore,
) -> None:
    cursor = embedded._db.cursor()
    try:
        with pytest.raises(Boom), transaction(cursor) as tx:
            cursor.execute("COMMIT")
            tx.committed = True
            raise Boom  # not DuckDB's "no transaction is active" from the ROLLBACK
        # The cursor is usable: no transaction was left open.
        with transaction(cursor):
            pass
    finally:
        cursor.close()
