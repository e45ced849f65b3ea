"""Dataset bytes are shared by checksum; they go when the last dataset holding them goes."""

from __future__ import annotations

from collections.abc import Iterable

from wattbase.storage.base import Store


def release(store: Store, checksums: Iterable[str]) -> None:
    """Remove the blobs no dataset of any domain refers to any more."""
    for checksum in set(checksums):
        # In a write transaction of its own, so no upload of the same bytes can slip in
        # between counting the references and removing the blob.
        with store.write() as session:
            if session.checksum_refs(checksum) == 0:
                store.blobs.delete(checksum)
