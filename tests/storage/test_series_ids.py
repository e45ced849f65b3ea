"""Series ids on the embedded store come from its sequence in blocks: unique, growing, and
never handed out twice, across restarts and crashes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.storage.fixtures import new_series
from wattbase.storage.embedded import EmbeddedStore
from wattbase.storage.embedded_sids import BLOCK


def test_ids_grow_across_blocks_and_restarts(tmp_path: Path) -> None:
    path = tmp_path / "wattbase.duckdb"
    store = EmbeddedStore(path)
    with store.write() as session:
        sids = [new_series(session).sid for _ in range(BLOCK + 2)]
    store.close()
    store = EmbeddedStore(path)
    with store.write() as session:
        sids.append(new_series(session).sid)
    store.close()
    assert sids == sorted(set(sids))


CRASH = """
import os, sys
from pathlib import Path
from tests.storage.fixtures import new_series
from wattbase.storage.embedded import EmbeddedStore

store = EmbeddedStore(Path(sys.argv[1]))
try:
    with store.write() as session:
        new_series(session)  # takes a block of ids
        raise RuntimeError("rolled back")
except RuntimeError:
    pass
with store.write() as session:
    print(new_series(session).sid)  # from the same block, committed
os._exit(0)  # no close, no checkpoint: the write-ahead log is all there is
"""


def test_a_crash_after_a_rolled_back_write_hands_out_no_id_twice(tmp_path: Path) -> None:
    path = tmp_path / "wattbase.duckdb"
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CRASH), str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    committed = int(done.stdout.strip())
    store = EmbeddedStore(path)
    try:
        with store.read() as session:
            rows = session._all("SELECT sid FROM series")
        assert [r[0] for r in rows] == [committed]
        with store.write() as session:
            assert new_series(session).sid > committed
    finally:
        store.close()
