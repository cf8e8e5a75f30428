"""Turn a reader's raw card sightings into taps.

A card held on the reader is one tap. A card seen again within ``window`` seconds of the
last time it was seen on that reader (presented or removed) is the same tap and is
ignored, and so is the removal that belongs to an ignored sighting.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from hardware.events import CARD, REMOVED, ReaderEvent


class Debouncer:
    def __init__(self, window: float = 2.0, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self.clock = clock
        self._last_seen: dict[tuple[str, str], float] = {}   # (reader, uid) -> clock
        self._present: dict[str, str] = {}                   # reader -> uid of published tap

    def accept(self, event: ReaderEvent) -> bool:
        """True if the event should be published; other kinds always pass."""
        if event.kind not in (CARD, REMOVED):
            return True
        now, key = self.clock(), (event.reader, event.value)
        if len(self._last_seen) > 1000:
            self._forget_before(now - self.window)
        last = self._last_seen.get(key)
        self._last_seen[key] = now
        if event.kind == REMOVED:
            if self._present.get(event.reader) == event.value:
                del self._present[event.reader]
                return True
            return False
        if self._present.get(event.reader) == event.value:
            return False                                     # still held
        if last is not None and now - last < self.window:
            return False                                     # fast second tap
        self._present[event.reader] = event.value
        return True

    def _forget_before(self, cutoff: float) -> None:
        self._last_seen = {k: t for k, t in self._last_seen.items() if t >= cutoff}
