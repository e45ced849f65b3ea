"""The PostgreSQL store on its own: migrations under concurrency, surviving a restart."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import POSTGRES_URL, clean_database, with_database
from wattbase.config import Settings
from wattbase.model.tenancy import Domain
from wattbase.storage import open_store
from wattbase.storage.base import Store
from wattbase.storage.postgres_schema import MIGRATIONS


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
