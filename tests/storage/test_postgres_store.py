"""The PostgreSQL store on its own: migrations under concurrency, surviving a restart."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest

from tests.conftest import POSTGRES_URL, clean_database, with_database
from tests.storage.fixtures import new_series
from wattbase.config import Settings
from wattbase.model.points import SeriesPoints, WriteMode
from wattbase.model.query import Aggregate, BucketPlan, TimeRange, ValueFilter
from wattbase.model.tenancy import Domain
from wattbase.storage import open_store
from wattbase.storage.base import Store
from wattbase.storage.postgres_schema import MIGRATIONS, WRITE_LOCK
from wattbase.storage.sql import HOUR

# 1999-12-31T00:00Z: the row layout kept times before 2000 in a partition that always exists.
BEFORE_2000 = 946_598_400_000_000


@pytest.fixture
def empty_database(pg_database: str) -> Iterator[str]:
    """A database with no schema at all, beside this run's own."""
    name = f"{pg_database.rsplit('/', 1)[1]}_empty"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
        try:
            yield with_database(POSTGRES_URL, name)
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_processes_starting_together_apply_each_migration_once(
    empty_database: str, tmp_path: Path
) -> None:
    opened: list[Store] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            opened.append(open_store(Settings(database_url=empty_database, data_dir=tmp_path)))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for store in opened:
        store.close()
    assert errors == [] and len(opened) == 4
    with psycopg.connect(empty_database) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert sorted(versions) == list(range(1, len(MIGRATIONS) + 1))


def test_the_store_survives_its_connections_being_cut(pg_database: str, tmp_path: Path) -> None:
    clean_database(pg_database)
    store = open_store(Settings(database_url=pg_database, data_dir=tmp_path))
    try:
        with store.write() as session:
            session.put_domain(Domain("acme", "UTC"))
        # What a database restart does to every open connection.
        with psycopg.connect(pg_database, autocommit=True) as admin:
            cut = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert cut is not None and cut[0] >= 1
        with store.read() as session:
            assert session.get_domain("acme") == Domain("acme", "UTC")
    finally:
        store.close()


def test_points_of_the_row_layout_move_into_hourly_blocks(
    empty_database: str, tmp_path: Path
) -> None:
    """Migration 4 on a database that holds points as rows, sub-second times and times
    before 1970 among them: every point comes back, and each hour's rollup row is its
    block's."""
    rng = np.random.default_rng(4)
    offsets = rng.integers(-3 * HOUR, 23 * HOUR, 2_000)
    ts = np.unique(np.r_[offsets + BEFORE_2000, offsets[:500] - 30 * 86_400 * 10**6])
    sids = rng.integers(1, 4, len(ts)).astype(np.int32)
    v = rng.normal(size=len(ts)).round(3)
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations ("
            "version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(MIGRATIONS[0])
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO points (sid, ts, v) VALUES (%s, %s, %s)",
                list(zip(sids.tolist(), ts.tolist(), v.tolist(), strict=True)),
            )
        for script in MIGRATIONS[1:3]:
            conn.execute(script)
        conn.execute("INSERT INTO schema_migrations (version) VALUES (1), (2), (3)")

    store = open_store(Settings(database_url=empty_database, data_dir=tmp_path))
    try:
        with store.read() as session:
            for sid in (1, 2, 3):
                got_ts, got_v = session.read_points(sid, TimeRange(), ValueFilter(), 10**6)
                np.testing.assert_array_equal(got_ts, ts[sids == sid])
                np.testing.assert_array_equal(got_v, v[sids == sid])
    finally:
        store.close()
    with psycopg.connect(empty_database) as conn:
        blocks = conn.execute(
            "SELECT sid, hour, h.n, h.total, h.lo, h.hi, b.ts, b.v FROM point_blocks b "
            "FULL JOIN point_hours h USING (sid, hour) ORDER BY sid, hour"
        ).fetchall()
    assert sum(b[2] for b in blocks) == len(ts)
    for _sid, hour, n, total, lo, hi, block_ts, block_v in blocks:
        assert all(hour <= t < hour + HOUR for t in block_ts) and block_ts == sorted(block_ts)
        assert (n, lo, hi) == (len(block_v), min(block_v), max(block_v))
        assert total == pytest.approx(sum(block_v))


def test_the_readme_retention_sql_keeps_blocks_and_rollup_together(
    pg_database: str, tmp_path: Path
) -> None:
    """The retention recipe in the README, run as written (with this test's cut-off)."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    recipe = readme.split("- **Retention:**", 1)[1].split("```sql\n", 1)[1].split("```", 1)[0]
    assert f"pg_advisory_xact_lock({WRITE_LOCK})" in recipe
    clean_database(pg_database)
    ts = BEFORE_2000 + HOUR // 4 * np.arange(16, dtype=np.int64)  # four hours
    store = open_store(Settings(database_url=pg_database, data_dir=tmp_path))
    try:
        with store.write() as session:
            sid = new_series(session).sid
            session.write_points([SeriesPoints(sid, ts, np.arange(16.0))], WriteMode.INSERT)
        cut = BEFORE_2000 + 2 * HOUR
        with psycopg.connect(pg_database, autocommit=True) as conn:
            conn.execute(recipe.replace("1704067200000000", str(cut)))
        with store.read() as session:
            got_ts, _ = session.read_points(sid, TimeRange(), ValueFilter(), 100)
            keys, counts = session.aggregate_points(
                sid, TimeRange(), BucketPlan(width=HOUR), Aggregate.COUNT, ValueFilter()
            )
    finally:
        store.close()
    np.testing.assert_array_equal(got_ts, ts[ts >= cut])
    np.testing.assert_array_equal(keys, [cut, cut + HOUR])
    np.testing.assert_array_equal(counts, [4.0, 4.0])
