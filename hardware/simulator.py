"""A reader whose taps and scans are injected from outside (dev panel, CLI, tests).

The reader service feeds it from ``POST /simulate``; ``kiosk reader tap UID`` and
``kiosk reader scan CODE`` post there.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from hardware.base import Reader
from hardware.events import BARCODE, CARD, KINDS, REMOVED, ReaderEvent
from hardware.uid import canonical_uid


class SimulatorReader(Reader):
    technology = "iso14443a"

    def __init__(self, name: str = "Simulated reader", technology: str = "iso14443a"):
        super().__init__(name)
        self.technology = technology
        self._pending: queue.Queue[ReaderEvent] = queue.Queue()

    def inject(self, kind: str, value: str = "", technology: str | None = None) -> ReaderEvent:
        """Queue an event as if the hardware produced it; card values are UID hex."""
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}; expected one of {', '.join(KINDS)}")
        raw = ""
        if kind in (CARD, REMOVED):
            value = raw = canonical_uid(value)
        elif kind == BARCODE and not value.strip():
            raise ValueError("a barcode scan needs a value")
        if kind == BARCODE:
            technology = technology or "barcode"
        event = self.event(kind, value.strip(), raw=raw, technology=technology)
        self._pending.put(event)
        return event

    def tap(self, uid_hex: str) -> None:
        """Present a card and take it away again."""
        self.inject(CARD, uid_hex)
        self.inject(REMOVED, uid_hex)

    def open(self) -> None:
        pass

    def read_events(self, stop: threading.Event) -> Iterator[ReaderEvent]:
        while not stop.is_set():
            try:
                yield self._pending.get(timeout=0.2)
            except queue.Empty:
                continue

    def close(self) -> None:
        pass
