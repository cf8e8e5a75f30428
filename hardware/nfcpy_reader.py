"""Contactless readers driven by nfcpy (``{"type": "nfcpy", "path": "usb"}``).

``path`` is an nfcpy device path: ``"usb"`` (first supported USB reader),
``"usb:072f:2200"``, ``"tty:USB0:pn532"``, or ``"udp:localhost:PORT"`` (tests).
Senses ISO 14443-A (106A) and FeliCa (212F) cards; a card is reported once when it
arrives and again as removed when it stops answering the presence check.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import nfc
import nfc.clf
import nfc.tag

from hardware.base import Reader, ReaderLost
from hardware.events import CARD, REMOVED, ReaderEvent
from hardware.uid import canonical_uid

TARGETS = {"106A": "iso14443a", "212F": "felica"}


class NfcpyReader(Reader):
    technology = "iso14443a"

    def __init__(self, path: str = "usb", name: str | None = None,
                 targets: tuple[str, ...] = ("106A", "212F"), interval: float = 0.1, **retry: float):
        super().__init__(name or f"NFC reader ({path})", **retry)
        unknown = set(targets) - set(TARGETS)
        if unknown:
            raise ValueError(f"unsupported nfcpy targets {sorted(unknown)}; use {list(TARGETS)}")
        self.path, self.targets, self.interval = path, tuple(targets), interval
        self.frontend: nfc.ContactlessFrontend | None = None

    def open(self) -> None:
        try:
            self.frontend = nfc.ContactlessFrontend(self.path)
        except OSError as exc:
            raise ReaderLost(f"no NFC reader at {self.path!r}: {exc}") from None

    def read_events(self, stop: threading.Event) -> Iterator[ReaderEvent]:
        frontend = self.frontend
        assert frontend is not None, "read_events runs after a successful open()"
        targets = [nfc.clf.RemoteTarget(t) for t in self.targets]
        while not stop.is_set():
            try:
                target = frontend.sense(*targets, iterations=1, interval=self.interval)
            except OSError as exc:                      # ENODEV when the device is gone
                raise ReaderLost(f"NFC reader at {self.path!r} went away: {exc}") from None
            if target is None:
                time.sleep(self.interval)
                continue
            tag = nfc.tag.activate(frontend, target)
            if tag is None:
                continue
            uid = canonical_uid(tag.identifier)
            yield self.event(CARD, uid, raw=uid, technology=TARGETS.get(target.brty, "nfc"))
            while not stop.is_set() and self._is_present(tag):
                stop.wait(self.interval)
            yield self.event(REMOVED, uid, raw=uid)
            if frontend.device is None:
                raise ReaderLost(f"NFC reader at {self.path!r} went away")

    def close(self) -> None:
        if self.frontend is not None:
            self.frontend.close()
            self.frontend = None

    @staticmethod
    def _is_present(tag: nfc.tag.Tag) -> bool:
        try:
            present: bool = tag.is_present
            return present
        except (nfc.clf.CommunicationError, OSError):
            return False
