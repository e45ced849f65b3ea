"""Whole series of points in memory, for repeated raw reads of the same series.

Dashboards and integrations read the same series over and over, a day or a month at a
time. Each such read costs DuckDB a query over a row group (about a millisecond); cut from
a series held in memory, it costs microseconds. The rules, as for ``MetaCache``:

- Only committed points go in, loaded by a read session; write sessions never use it.
- A series is forgotten after every commit that may have changed its points (``changed``
  runs after the commit and before the write is answered), so a read that starts after a
  write was acknowledged never sees the points from before it.
- A reader notes the series' generation before it loads the points and keeps them only if
  no commit changed them meanwhile: a load that raced a write is used once, not kept.
- A series is loaded whole on its second read since its last change that finds it
  missing, so that reading a series once never pays for all of it. A series loaded before
  waits one more read for every 100,000 points it had: one that is written to between
  reads would otherwise be loaded again after every write. One series may take at most a
  quarter of the room; one found larger is not loaded again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from wattbase.model.points import Micros, Values

# Series whose misses and sizes are remembered; beyond this, forgotten.
_REMEMBERED = 100_000
# Points of a series that one more read must ask for before it is loaded again.
_POINTS_PER_READ = 100_000


class PointCache:
    """Up to ``room`` points of whole series, the least recently read dropped first."""

    def __init__(self, room: int) -> None:
        self.room = room
        self._series: OrderedDict[int, tuple[Micros, Values]] = OrderedDict()
        self._held = 0
        self._generations: dict[int, int] = {}
        # Reads that missed each series since its last change: (generation, count).
        self._missed: dict[int, tuple[int, int]] = {}
        # Points each series had when it was last loaded, and the series found too large.
        self._sizes: dict[int, int] = {}
        self._too_large: set[int] = set()
        self._lock = threading.Lock()

    @property
    def most(self) -> int:
        """The largest series, in points, that may be kept."""
        return self.room // 4

    def get(self, sid: int) -> tuple[Micros, Values] | None:
        with self._lock:
            found = self._series.get(sid)
            if found is not None:
                self._series.move_to_end(sid)
            return found

    def generation(self, sid: int) -> int:
        return self._generations.get(sid, 0)

    def wanted(self, sid: int) -> bool:
        """Whether to load ``sid`` whole now (see the module's rules); counts this miss."""
        if self.most == 0 or sid in self._too_large:
            return False
        with self._lock:
            generation = self._generations.get(sid, 0)
            seen, misses = self._missed.get(sid, (generation, 0))
            misses = misses + 1 if seen == generation else 1
            if len(self._missed) >= _REMEMBERED:
                self._missed.clear()
            self._missed[sid] = (generation, misses)
            return misses >= 2 + self._sizes.get(sid, 0) // _POINTS_PER_READ

    def too_large(self, sid: int) -> None:
        with self._lock:
            if len(self._too_large) >= _REMEMBERED:
                self._too_large.clear()
            self._too_large.add(sid)

    def offer(self, sid: int, generation: int, ts: Micros, v: Values) -> None:
        """Keep ``sid``'s points (sorted by time), loaded at ``generation``, if still current."""
        if len(ts) > self.most:
            return
        with self._lock:
            if len(self._sizes) >= _REMEMBERED:
                self._sizes.clear()
            self._sizes[sid] = len(ts)
            if self._generations.get(sid, 0) != generation or sid in self._series:
                return
            # Read-only, so that no caller can change the points another one will read.
            ts.flags.writeable = False
            v.flags.writeable = False
            while self._series and self._held + len(ts) > self.room:
                _, (old, _) = self._series.popitem(last=False)
                self._held -= len(old)
            self._series[sid] = (ts, v)
            self._held += len(ts)
            self._missed.pop(sid, None)

    def changed(self, sids: Iterable[int]) -> None:
        """Forget ``sids`` after a commit that may have changed their points."""
        with self._lock:
            for sid in sids:
                self._generations[sid] = self._generations.get(sid, 0) + 1
                dropped = self._series.pop(sid, None)
                if dropped is not None:
                    self._held -= len(dropped[0])
