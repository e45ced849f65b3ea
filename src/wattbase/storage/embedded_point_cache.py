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
- A series is loaded whole on its second read that finds it missing, so that reading a
  series once never pays for all of it; one series may take at most a quarter of the room.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from wattbase.model.points import Micros, Values

# Series a load is remembered for (read once, or too large); beyond this, forgotten.
_REMEMBERED = 100_000


class PointCache:
    """Up to ``room`` points of whole series, the least recently read dropped first."""

    def __init__(self, room: int) -> None:
        self.room = room
        self._series: OrderedDict[int, tuple[Micros, Values]] = OrderedDict()
        self._held = 0
        self._generations: dict[int, int] = {}
        # Series read once and missing (value: 1), or found too large (value: -1), as of
        # their generation.
        self._missed: dict[int, tuple[int, int]] = {}
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
        """Whether to load ``sid`` whole now: on its second miss, unless it was too large."""
        if self.most == 0:
            return False
        with self._lock:
            generation = self._generations.get(sid, 0)
            seen = self._missed.get(sid)
            if seen is not None and seen[0] == generation:
                return seen[1] > 0
            if len(self._missed) >= _REMEMBERED:
                self._missed.clear()
            self._missed[sid] = (generation, 1)
            return False

    def too_large(self, sid: int, generation: int) -> None:
        with self._lock:
            self._missed[sid] = (generation, -1)

    def offer(self, sid: int, generation: int, ts: Micros, v: Values) -> None:
        """Keep ``sid``'s points (sorted by time), loaded at ``generation``, if still current."""
        if len(ts) > self.most:
            return
        with self._lock:
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
