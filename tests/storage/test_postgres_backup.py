"""The documented backup route: ``pg_dump -Fc`` and ``pg_restore`` into a new database."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest

from tests.conftest import POSTGRES_URL, clean_database, with_database
from wattbase.config import Settings
from wattbase.model.points import SeriesPoints, WriteMode
from wattbase.model.query import TimeRange, ValueFilter
from wattbase.model.tenancy import Domain
from wattbase.storage import open_store
from wattbase.storage.postgres_blobs import PgBlobs

pytestmark = pytest.mark.skipif(
    shutil.which("pg_dump") is None or shutil.which("pg_restore") is None,
    reason="pg_dump and pg_restore are not installed",
)


@pytest.fixture
def restored(pg_database: str) -> Iterator[str]:
    clean_database(pg_database)
    url = with_database(POSTGRES_URL, f"{pg_database.rsplit('/', 1)[1]}_restored")
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
        try:
            yield url
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_dump_and_restore_keep_points_and_blobs(
    pg_database: str, restored: str, tmp_path: Path
) -> None:
    ts = np.arange(0, 90 * 86_400, 3_600, dtype=np.int64) * 10**6 + 1_700_000_000_000_000
    v = np.arange(len(ts), dtype=np.float64)
    store = open_store(Settings(database_url=pg_database, data_dir=tmp_path))
    try:
        with store.write() as session:
            session.put_domain(Domain("acme", "Europe/Stockholm"))
            session.write_points([SeriesPoints(1, ts, v)], WriteMode.INSERT)
        spool = store.blobs.spool(limit=10**7)
        spool.write(b"0123456789" * 300_000)  # three chunks
        checksum = spool.checksum
        store.blobs.commit(spool)
    finally:
        store.close()

    dump = tmp_path / "wattbase.dump"
    subprocess.run(["pg_dump", "-Fc", "-f", str(dump), pg_database], check=True)
    subprocess.run(["pg_restore", "--exit-on-error", "-d", restored, str(dump)], check=True)

    again = open_store(Settings(database_url=restored, data_dir=tmp_path))
    try:
        with again.read() as session:
            assert session.list_domains() == [Domain("acme", "Europe/Stockholm")]
            got_ts, got_v = session.read_points(1, TimeRange(), ValueFilter(), 10**6)
        np.testing.assert_array_equal(got_ts, ts)
        np.testing.assert_array_equal(got_v, v)
        with again.blobs.open(checksum) as blob:
            assert blob.read() == b"0123456789" * 300_000
        assert isinstance(again.blobs, PgBlobs) and again.blobs.checksums() == [checksum]
        # The restored blocks take writes: new hours, and points in a stored hour.
        with again.write() as session:
            later = np.sort(np.r_[ts + 400 * 86_400 * 10**6, ts + 60 * 10**6])
            counts = session.write_points(
                [SeriesPoints(1, later, np.zeros(len(later)))], WriteMode.INSERT
            )
        assert counts[1].inserted == len(later)
        with again.read() as session:
            got_ts, _ = session.read_points(1, TimeRange(), ValueFilter(), 10**7)
        np.testing.assert_array_equal(got_ts, np.sort(np.r_[ts, later]))
    finally:
        again.close()
