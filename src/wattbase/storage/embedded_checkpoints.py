"""Checkpoints of the embedded store, taken when writes pause rather than inside a commit.

DuckDB checkpoints by itself in the commit that takes its write-ahead log past
``checkpoint_threshold`` (16 MiB by default): that commit, and every writer queued behind
it, waits for the whole checkpoint (hundreds of milliseconds under ingest). The store
raises the threshold and this thread checkpoints once no write has committed for a
moment, so compressed data reaches the file soon after a burst, off the request path.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

# DuckDB still checkpoints in a commit past this much log (about 50 M points).
WAL_LIMIT = "1GB"
IDLE_SECONDS = 1.0
log = logging.getLogger("wattbase.storage")


class IdleCheckpoints:
    """Calls ``checkpoint`` once ``idle`` seconds pass after the last ``wrote()``."""

    def __init__(self, checkpoint: Callable[[], None], idle: float = IDLE_SECONDS) -> None:
        self._checkpoint = checkpoint
        self._idle = idle
        self._last_write = 0.0
        self._unsaved = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wattbase-checkpoints", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wrote(self) -> None:
        self._last_write = time.monotonic()
        self._unsaved = True

    def due(self, now: float) -> bool:
        return self._unsaved and now - self._last_write >= self._idle

    def run_if_due(self, now: float) -> bool:
        """Checkpoint when due; True when it did."""
        if not self.due(now):
            return False
        self._unsaved = False
        try:
            self._checkpoint()
        except Exception:
            self._unsaved = True  # e.g. a transaction was running: try again next time
            raise
        return True

    def _run(self) -> None:
        while not self._stop.wait(self._idle / 2):
            try:
                self.run_if_due(time.monotonic())
            except Exception as exc:
                log.debug("checkpoint failed, retrying: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
