"""Point writes of the embedded store, mixed into ``EmbeddedSession``.

The points table has no key (see the schema), so finding which sent points are stored
already is a join. Most writes append after a series' last point, and for those there is
nothing to find: the writer remembers each series' last timestamp (``Tails``) and inserts
such batches without the join.

A session with ``defer_appends`` (the store's group commits) holds such batches back and
inserts every job's at once (``flush_appends``), before anything that reads points and
before its commit: one INSERT instead of one per request, which at the end of a group also
carries the COMMIT. A group's jobs come in the order their requests were decoded, not sent:
a batch that lies before a held-back one of its series, apart from it and after what is
inserted, waits too, and the flush puts them in order, so a series is not split in the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np

from wattbase.model.points import PointCounts, SeriesPoints, WriteMode
from wattbase.storage.embedded_rollups import HourRollups
from wattbase.storage.embedded_schema import SECOND, seconds_between
from wattbase.storage.sql import MIN_TS

# The stored columns of ``points`` (``ts`` is computed), filled from the batch ``b``.
STORED = "(sid, ts_s, ts_us, v)"
STORED_VALUES = "b.sid, b.ts_s, b.ts_us, b.v"
# A stored point ``p`` at a batch point ``b``: on the stored columns, which DuckDB compares
# without computing ``ts``.
SAME_POINT = "p.sid = b.sid AND p.ts_s = b.ts_s AND p.ts_us = b.ts_us"


def _columns(batches: Sequence[SeriesPoints]) -> dict[str, np.ndarray]:
    """The batches as the columns DuckDB scans: series id, both forms of time, value."""
    sid = np.concatenate([np.full(len(b.ts), b.sid, dtype=np.int32) for b in batches])
    ts = np.concatenate([b.ts for b in batches])
    ts_s, ts_us = np.divmod(ts, SECOND)
    v = np.concatenate([b.v for b in batches])
    return {"sid": sid, "ts": ts, "ts_s": ts_s, "ts_us": ts_us.astype(np.int32), "v": v}


class Tails:
    """The last stored timestamp of each series the writer has touched, never too early.

    Only the writer uses it, under the store's write lock. A transaction's findings wait in
    ``pending`` and count only once it commits; deletes leave an entry too late, which
    merely sends the next write of that series through the join.
    """

    def __init__(self) -> None:
        self.known: dict[int, int | None] = {}

    def commit(self, pending: dict[int, int | None]) -> None:
        # Pending entries start from the known ones or from the table, so never go back.
        self.known.update(pending)


class PointWrites(HourRollups):
    """``write_points`` over the session's DuckDB cursor, rollups included."""

    _cur: duckdb.DuckDBPyConnection
    _tails: Tails | None
    # Last timestamps this transaction found or wrote, for Tails.commit.
    pending_tails: dict[int, int | None]
    # Series ids handed out in this transaction.
    _fresh_sids: set[int]
    # Series whose points this transaction wrote, for the store's next roll_hours.
    written_sids: set[int]
    # Series whose points this transaction may have changed, for the store's point cache.
    changed_sids: set[int]
    # Committed rollup marks (the store's copy, current under the write lock).
    _rolled: dict[int, int]
    # Appends not inserted yet, while ``defer_appends``; see flush_appends.
    defer_appends: bool
    _deferred: list[SeriesPoints]
    # Per series with held-back appends: its last inserted point, and the held spans.
    _held: dict[int, tuple[int | None, list[tuple[int, int]]]]

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        # Drained at once: DuckDB refuses new work on a cursor with an unread result.
        rows: list[Any] = self._cur.execute(sql, params).fetchall()
        return rows

    def write_points(
        self, batches: Sequence[SeriesPoints], mode: WriteMode
    ) -> dict[int, PointCounts]:
        counts = {b.sid: PointCounts() for b in batches}
        self.written_sids.update(b.sid for b in batches)
        self.changed_sids.update(b.sid for b in batches)
        if mode is WriteMode.REPLACE_WINDOW:
            self.flush_appends()
            self._clear_windows(batches, counts)
            cleared = [(b.sid, *span) for b in batches if (span := b.replace_span())]
        batches = [b for b in batches if len(b.ts)]
        appends: list[SeriesPoints] = list(batches)
        rest: list[SeriesPoints] = []
        if mode is not WriteMode.REPLACE_WINDOW:
            appends, rest = self._split_appends(batches)
        if appends:
            # A replaced window's hours are recomputed below, from the inserted points.
            if self.defer_appends and mode is not WriteMode.REPLACE_WINDOW:
                self._deferred.extend(appends)
            else:
                self._insert(appends)
            for b in appends:
                counts[b.sid].inserted = len(b.ts)
        if rest:
            self.flush_appends()
            self._merge(rest, counts, update=mode is WriteMode.UPDATE_WINDOW)
        self._note_written(batches)
        # Appends lie after every rolled hour but the last; the rest may change any.
        if mode is WriteMode.REPLACE_WINDOW:
            self._redo_hours(cleared)
        else:
            changed = rest + [b for b in appends if int(b.ts[0]) < self._rolled.get(b.sid, MIN_TS)]
            if changed:
                self.flush_appends()
                self._redo_hours([(b.sid, int(b.ts[0]), int(b.ts[-1])) for b in changed])
        return counts

    def flush_appends(self, commit: bool = False) -> bool:
        """Insert the appends held back so far; every read of points must come after.

        With ``commit``, the INSERT's call commits the transaction too; says whether it did.
        """
        if not self._deferred:
            return False
        deferred, self._deferred = self._deferred, []
        self._held.clear()
        deferred.sort(key=lambda b: (b.sid, int(b.ts[0])))
        self._insert(deferred, commit)
        return commit

    def _note_written(self, batches: Sequence[SeriesPoints]) -> None:
        known = {} if self._tails is None else self._tails.known
        for b in batches:
            if b.sid in self.pending_tails:
                tail = self.pending_tails[b.sid]
            elif b.sid in known:
                tail = known[b.sid]
            else:
                continue  # unknown stays unknown: the next append asks the table
            last = int(b.ts[-1])
            self.pending_tails[b.sid] = last if tail is None else max(tail, last)

    def _last_stored(self, sids: list[int]) -> dict[int, int | None]:
        """Each series' last stored timestamp, from Tails or else from the table."""
        known = {} if self._tails is None else self._tails.known
        for sid in sids:
            if sid in self._fresh_sids and sid not in self.pending_tails:
                # A series made in this transaction has no points before its first write.
                self.pending_tails[sid] = None
        found = {s: self.pending_tails.get(s, known.get(s)) for s in sids}
        missing = [s for s in sids if s not in self.pending_tails and s not in known]
        if missing:
            self.flush_appends()
            for sid in missing:
                found[sid] = None
            for sid, last in self._rows(
                f"SELECT sid, max(ts) FROM points WHERE sid BETWEEN {min(missing)} "
                f"AND {max(missing)} AND list_contains(?, sid) GROUP BY sid",
                [missing],
            ):
                found[sid] = int(last)
            self.pending_tails.update({s: found[s] for s in missing})
        return found

    def _split_appends(
        self, batches: list[SeriesPoints]
    ) -> tuple[list[SeriesPoints], list[SeriesPoints]]:
        """Batches that lie wholly after their series' last point, and the others."""
        if self._tails is None:
            return [], batches
        last = self._last_stored([b.sid for b in batches])
        appends: list[SeriesPoints] = []
        rest: list[SeriesPoints] = []
        for b in batches:
            tail = last[b.sid]
            first, final = int(b.ts[0]), int(b.ts[-1])
            held = self._held.get(b.sid)
            if held is not None:
                # Only held-back batches lie past ``inserted``: one apart from them all may
                # wait with them.
                inserted, spans = held
                fits = (inserted is None or first > inserted) and all(
                    final < lo or first > hi for lo, hi in spans
                )
            else:
                fits = tail is None or first > tail
            if not fits:
                rest.append(b)
                continue
            appends.append(b)
            if self.defer_appends:
                self._held.setdefault(b.sid, (tail, []))[1].append((first, final))
        return appends, rest

    def _register(self, batches: Sequence[SeriesPoints]) -> str:
        """Register the batches as the view ``wb_batch``; a zone-map friendly bound on it."""
        columns = _columns(batches)
        self._cur.register("wb_batch", columns)
        sid, ts = columns["sid"], columns["ts"]
        # So DuckDB skips row groups outside the batch.
        return (
            f"p.sid BETWEEN {int(sid.min())} AND {int(sid.max())} "
            f"AND {seconds_between(int(ts.min()), int(ts.max()), 'p')}"
        )

    def _insert(self, batches: Sequence[SeriesPoints], commit: bool = False) -> None:
        """Insert the batches and, with ``commit``, commit the transaction in the same call.

        Each call into DuckDB waits for the GIL several times, and beside busy threads each
        wait is a switch interval: DuckDB finds ``wb_appends`` in this frame (a replacement
        scan) instead of a register and an unregister, two calls more. No view has that
        name, so none can stand in for it.
        """
        wb_appends = _columns(batches)  # noqa: F841 - read by DuckDB, by name, in this frame
        sql = f"INSERT INTO points {STORED} SELECT {STORED_VALUES} FROM wb_appends b"
        if commit:
            sql += "; COMMIT"
        self._cur.execute(sql).fetchall()

    def _clear_windows(
        self, batches: Sequence[SeriesPoints], counts: dict[int, PointCounts]
    ) -> None:
        """Delete each batch's window of stored points, counting them per series."""
        spans = [(b.sid, span) for b in batches if (span := b.replace_span()) is not None]
        if not spans:
            return
        sids = np.array([sid for sid, _ in spans], dtype=np.int32)
        los = np.array([lo for _, (lo, _) in spans], dtype=np.int64)
        his = np.array([hi for _, (_, hi) in spans], dtype=np.int64)
        in_window = (
            f"p.sid BETWEEN {int(sids.min())} AND {int(sids.max())} "
            f"AND {seconds_between(int(los.min()), int(his.max()), 'p')} "
            "AND p.sid = w.sid AND p.ts BETWEEN w.lo AND w.hi"
        )
        cur = self._cur
        cur.register("wb_spans", {"sid": sids, "lo": los, "hi": his})
        try:
            for sid, deleted in self._rows(
                f"SELECT p.sid, count(*) FROM points p, wb_spans w WHERE {in_window} GROUP BY p.sid"
            ):
                counts[sid].deleted = deleted
            self._rows(f"DELETE FROM points p USING wb_spans w WHERE {in_window}")
        finally:
            cur.unregister("wb_spans")

    def _merge(
        self, batches: Sequence[SeriesPoints], counts: dict[int, PointCounts], *, update: bool
    ) -> None:
        """Insert the points not stored yet; with ``update``, change the stored ones."""
        cur = self._cur
        where = self._register(batches)
        try:
            matched = cur.execute(
                "SELECT b.sid, b.ts, b.v <> p.v AS differs FROM wb_batch b "
                f"JOIN points p ON {SAME_POINT} WHERE {where}"
            ).fetchnumpy()
            matched_sid = np.asarray(matched["sid"], dtype=np.int64)
            differs = np.asarray(matched["differs"], dtype=bool)
            if update and differs.any():
                # Changed points are deleted and inserted anew, not updated in place: at the
                # next checkpoint DuckDB writes every column segment an update touched again
                # and leaves the old blocks free, so re-writing the last 10% of each series
                # grew the file by half of its size; an insert adds only the new rows.
                self._rows(
                    "DELETE FROM points p USING wb_batch b "
                    f"WHERE {SAME_POINT} AND p.v <> b.v AND {where}"
                )
            # What stays as it is; everything else in the batch goes in.
            kept = ~differs if update else np.ones(len(differs), dtype=bool)
            sent = sum(len(b.ts) for b in batches)
            if not kept.any():
                self._rows(f"INSERT INTO points {STORED} SELECT {STORED_VALUES} FROM wb_batch b")
            elif kept.sum() < sent:
                kept_rows = {"sid": matched["sid"][kept], "ts": matched["ts"][kept]}
                cur.register("wb_kept", kept_rows)
                try:
                    self._rows(
                        f"INSERT INTO points {STORED} SELECT {STORED_VALUES} FROM wb_batch b "
                        "ANTI JOIN wb_kept m ON m.sid = b.sid AND m.ts = b.ts"
                    )
                finally:
                    cur.unregister("wb_kept")
        finally:
            cur.unregister("wb_batch")
        for b in batches:
            mine = matched_sid == b.sid
            n_matched = int(mine.sum())
            n_differs = int(differs[mine].sum())
            c = counts[b.sid]
            c.inserted = len(b.ts) - n_matched
            if update:
                c.updated = n_differs
                c.skipped = n_matched - n_differs
            else:
                c.skipped = n_matched
                c.conflicting = n_differs
