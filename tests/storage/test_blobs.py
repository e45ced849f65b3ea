"""The folder blob store: spooling, atomic placement, sweeping leftovers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from wattbase.errors import NotFound, PayloadTooLarge
from wattbase.storage.blobs import FolderBlobs, chunks


def test_commit_places_the_bytes_under_their_checksum(tmp_path: Path) -> None:
    blobs = FolderBlobs(tmp_path / "blobs")
    content = b"a,b\n1,2\n" * 1000
    spool = blobs.spool(limit=len(content))
    spool.write(content[:100])
    spool.write(content[100:])
    checksum = hashlib.sha256(content).hexdigest()
    assert spool.checksum == checksum and spool.size == len(content)
    blobs.commit(spool)
    assert (tmp_path / "blobs" / checksum[:2] / checksum).read_bytes() == content
    assert b"".join(chunks(blobs.open(checksum), size=7)) == content
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []

    twin = blobs.spool(limit=len(content))
    twin.write(content)
    blobs.commit(twin)
    assert not twin.path.exists()

    blobs.delete(checksum)
    with pytest.raises(NotFound):
        blobs.open(checksum)


def test_a_spool_refuses_content_over_its_limit(tmp_path: Path) -> None:
    blobs = FolderBlobs(tmp_path / "blobs")
    with blobs.spool(limit=10) as spool:
        spool.write(b"x" * 10)
        with pytest.raises(PayloadTooLarge):
            spool.write(b"y")
    assert not spool.path.exists()


def test_sweep_removes_leftovers_and_unreferenced_blobs(tmp_path: Path) -> None:
    blobs = FolderBlobs(tmp_path / "blobs")
    kept, dropped = blobs.spool(limit=100), blobs.spool(limit=100)
    kept.write(b"kept")
    dropped.write(b"dropped")
    blobs.commit(kept)
    blobs.commit(dropped)
    half = blobs.spool(limit=100)
    half.write(b"half")
    half.file.close()
    assert blobs.sweep({kept.checksum}) == 2
    assert [p.name for p in (tmp_path / "blobs").glob("??/*")] == [kept.checksum]
    assert not half.path.exists()
