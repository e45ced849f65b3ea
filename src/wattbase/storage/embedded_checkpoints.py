"""Checkpoints of the embedded store, taken when writes pause rather than inside a commit.

DuckDB checkpoints by itself in the commit that takes its write-ahead log past
``checkpoint_threshold`` (16 MiB by default): that commit, and every writer queued behind
it, waits for the whole checkpoint (hundreds of milliseconds under ingest). The store
raises the threshold and this thread checkpoints once no write has committed for a
moment, so compressed data reaches the file soon after a burst, off the request path.
Writes that never pause get a checkpoint every ``LONGEST_SECONDS`` anyway: writers wait
for it, but the log (and the replay after a crash) and the hourly rollups' lag stay
bounded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

# DuckDB still checkpoints in a commit past this much log (about 50 M points).
WAL_LIMIT = "1GB"
IDLE_SECONDS = 1.0
LONGEST_SECONDS = 60.0
log = logging.getLogger("wattbase.storage")


class IdleCheckpoints:
    """Calls ``checkpoint`` once ``idle`` seconds pass after the last ``wrote()``, or once
    ``longest`` seconds pass after the first write it has not saved."""

    def __init__(
        self,
        checkpoint: Callable[[], None],
        idle: float = IDLE_SECONDS,
        longest: float = LONGEST_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._checkpoint = checkpoint
        self._idle = idle
        self._longest = longest
        self._clock = clock
        self._last_write = 0.0
        self._first_unsaved = 0.0
        self._unsaved = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wattbase-checkpoints", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wrote(self) -> None:
        now = self._clock()
        if not self._unsaved:
            self._first_unsaved = now
        self._last_write = now
        self._unsaved = True

    def due(self, now: float) -> bool:
        if not self._unsaved:
            return False
        return now - self._last_write >= self._idle or now - self._first_unsaved >= self._longest

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
                self.run_if_due(self._clock())
            except Exception as exc:
                log.debug("checkpoint failed, retrying: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
