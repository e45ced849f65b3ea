"""Content-addressed blobs: the bytes of datasets, stored under their SHA-256.

A ``BlobStore`` takes content in two steps. ``spool()`` gives a ``Spool``: a temporary file
the content streams into while it is hashed and counted, so nothing needs the whole
document in memory. ``commit(spool)`` then puts it in place durably under its checksum;
a backend must make that atomic (all of the blob or none of it is ever readable), and the
core calls it inside the write transaction that records the dataset, so placing and
freeing blobs are serialised with the metadata that refers to them.

``FolderBlobs`` keeps blobs as files: ``<root>/ab/abcdef...``, written to ``<root>/tmp``,
fsynced, renamed into place and the folder fsynced. A PostgreSQL backend can implement the
same protocol with large objects or a bytea table, spooling to a local temp file likewise.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from wattbase.errors import NotFound, PayloadTooLarge
from wattbase.storage.disk import fsync_path

CHUNK = 1 << 20
CHECKSUM = re.compile(r"[0-9a-f]{64}")


class Spool:
    """A temporary file that hashes and counts what is written to it, up to ``limit`` bytes."""

    def __init__(self, folder: Path, limit: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=folder, prefix="spool-")
        self.path = Path(name)
        self.file: BinaryIO = os.fdopen(handle, "w+b")
        self.limit = limit
        self.size = 0
        self._hash = hashlib.sha256()

    def write(self, chunk: bytes | memoryview) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise PayloadTooLarge(
                f"the content is over the limit of {self.limit} bytes", param="content"
            )
        self._hash.update(chunk)
        self.file.write(chunk)

    def copy_from(self, source: BinaryIO) -> None:
        while chunk := source.read(CHUNK):
            self.write(chunk)

    @property
    def checksum(self) -> str:
        return self._hash.hexdigest()

    def seal(self) -> None:
        """Flush the content to disk and close the file: it is ready for ``commit``."""
        if not self.file.closed:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()

    def reader(self) -> BinaryIO:
        """The content from its first byte (flushed); read it before ``commit``."""
        self.file.flush()
        self.file.seek(0)
        return self.file

    def discard(self) -> None:
        """Remove the temporary file; calling it again does nothing."""
        if not self.file.closed:
            self.file.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


class BlobStore(Protocol):
    def spool(self, limit: int) -> Spool: ...
    def commit(self, spool: Spool) -> None:
        """Store the spool's content under its checksum, atomically and durably."""
        ...

    def open(self, checksum: str) -> BinaryIO: ...
    def delete(self, checksum: str) -> None:
        """Free a blob; the caller has made sure nothing refers to it any more."""
        ...

    def sweep(self, keep: Iterable[str]) -> int:
        """Remove leftovers of interrupted uploads and blobs not in ``keep``; how many."""
        ...


def chunks(blob: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    """The blob's bytes in pieces, closing it at the end (a streamed answer's body)."""
    with blob:
        while chunk := blob.read(size):
            yield chunk


class FolderBlobs:
    """Blobs as files under ``root``; see the module docstring."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def _path(self, checksum: str) -> Path:
        if not CHECKSUM.fullmatch(checksum):
            raise ValueError(f"not a sha256 checksum: {checksum!r}")
        return self.root / checksum[:2] / checksum

    def spool(self, limit: int) -> Spool:
        return Spool(self.tmp, limit)

    def commit(self, spool: Spool) -> None:
        target = self._path(spool.checksum)
        if target.exists():
            # Same checksum, same bytes: the stored copy serves both datasets.
            spool.discard()
            return
        spool.seal()
        target.parent.mkdir(exist_ok=True)
        os.replace(spool.path, target)
        fsync_path(target.parent)

    def open(self, checksum: str) -> BinaryIO:
        try:
            return self._path(checksum).open("rb")
        except FileNotFoundError:
            raise NotFound(f"no content {checksum}", param="checksum") from None

    def delete(self, checksum: str) -> None:
        path = self._path(checksum)
        path.unlink(missing_ok=True)
        fsync_path(path.parent)

    def sweep(self, keep: Iterable[str]) -> int:
        kept = set(keep)
        removed = 0
        for leftover in self.tmp.iterdir():
            leftover.unlink(missing_ok=True)
            removed += 1
        for folder in self.root.iterdir():
            if folder == self.tmp or not folder.is_dir():
                continue
            for blob in folder.iterdir():
                if blob.name not in kept:
                    blob.unlink(missing_ok=True)
                    removed += 1
        return removed
