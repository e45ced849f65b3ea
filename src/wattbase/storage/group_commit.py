"""Group commit: point writes that queue up behind a transaction share the next one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar, cast

from wattbase.storage.base import Session

T = TypeVar("T")

# A failure rolls its whole group back and runs the group again job by job, so the group
# is kept to a size whose second run costs little.
MOST_JOBS = 32
# The most points a group writes; a larger job runs alone. Below DuckDB's row group
# (122,880 rows), past which a transaction writes row groups of its own to the file.
MOST_POINTS = 100_000


class _Ticket:
    __slots__ = ("job", "points", "done", "result", "error")

    def __init__(self, job: Callable[[Session], Any], points: int) -> None:
        self.job = job
        self.points = points
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None


class GroupCommit:
    """Runs write jobs in the transactions ``begin`` opens, several jobs to one when they
    queue up.

    Under load a write spends much of its turn on what every transaction and statement
    costs: the lock's hand-over, the begin, the commit and its fsync, and each statement's
    trips in and out of the interpreter lock. Jobs that arrive while a group is being
    written wait for it; then the first of them runs every waiting job in one transaction
    (the embedded store also inserts their appended points in one statement), and each
    job's caller gets its own result once that transaction commits.

    A job that raises rolls back its whole group, whose jobs then run again one
    transaction each, so that only the failing job fails. A job may therefore run twice,
    and must keep its effects inside the session it is given.
    """

    def __init__(self, begin: Callable[[], AbstractContextManager[Session]]) -> None:
        self._begin = begin
        self._queue: list[_Ticket] = []
        self._queue_lock = threading.Lock()
        self._turn = threading.Lock()

    @property
    def waiting(self) -> int:
        """Jobs queued for the next group."""
        with self._queue_lock:
            return len(self._queue)

    def run(self, job: Callable[[Session], T], points: int) -> T:
        """``job``'s result once its transaction has committed, or its error; ``job``
        writes ``points`` points."""
        if points > MOST_POINTS:
            with self._begin() as session:
                return job(session)
        ticket = _Ticket(job, points)
        with self._queue_lock:
            self._queue.append(ticket)
        with self._turn:
            # More jobs than a group holds may be waiting, this one among the later ones.
            while not ticket.done:
                group = self._next_group()
                try:
                    self._write(group)
                finally:
                    # Only an error that is not an Exception (e.g. KeyboardInterrupt) gets
                    # here with jobs undone: their callers must not wait for nothing.
                    for undone in (t for t in group if not t.done):
                        undone.error = RuntimeError("the write was interrupted")
                        undone.done = True
        if ticket.error is not None:
            raise ticket.error
        return cast(T, ticket.result)

    def _next_group(self) -> list[_Ticket]:
        """The longest run from the queue's head within MOST_JOBS and MOST_POINTS."""
        with self._queue_lock:
            taken = points = 0
            for ticket in self._queue[:MOST_JOBS]:
                if taken and points + ticket.points > MOST_POINTS:
                    break
                taken, points = taken + 1, points + ticket.points
            group, self._queue = self._queue[:taken], self._queue[taken:]
        return group

    def _write(self, group: list[_Ticket]) -> None:
        if len(group) > 1:
            try:
                with self._begin() as session:
                    results = [ticket.job(session) for ticket in group]
            except Exception:  # noqa: BLE001 - each job runs again alone, below
                pass
            else:
                for ticket, result in zip(group, results, strict=True):
                    ticket.result, ticket.done = result, True
                return
        for ticket in group:
            try:
                with self._begin() as session:
                    ticket.result = ticket.job(session)
            except Exception as exc:  # noqa: BLE001 - raised in the caller's thread
                ticket.error = exc
            ticket.done = True
