"""A reader whose taps and scans are injected from outside (dev panel, CLI, tests).

The reader service feeds it from ``POST /simulate``; ``kiosk reader tap UID`` and
``kiosk reader scan CODE`` post there.

It is also an item pad: :meth:`SimulatorReader.place_item` and :meth:`remove_item` put library items'
tags on it and take them away, each change an ``item_tags`` event listing every tag there (as
``hardware/iso15693_reader.py`` does for real tags), and :meth:`set_security` marks one for the gate.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import replace

from hardware.base import Reader, SecurityNotSet, TagLost
from hardware.events import BARCODE, CARD, ITEM_TAGS, KINDS, REMOVED, ItemTag, ReaderEvent
from hardware.uid import canonical_uid


class SimulatorReader(Reader):
    technology = "iso14443a"

    def __init__(self, name: str = "Simulated reader", technology: str = "iso14443a"):
        super().__init__(name)
        self.technology = technology
        self._pending: queue.Queue[ReaderEvent] = queue.Queue()
        self._lock = threading.Lock()
        self._pad: dict[str, ItemTag] = {}          # uid -> the item tag on the pad, in the order placed
        self._stuck: set[str] = set()               # tags whose security writes do not take (tests, demos)

    def inject(self, kind: str, value: str = "", technology: str | None = None) -> ReaderEvent:
        """Queue an event as if the hardware produced it; card values are UID hex."""
        if kind not in KINDS or kind == ITEM_TAGS:
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

    def place_item(self, uid_hex: str, item_id: str = "", parts: int = 1, part: int = 1, owner: str = "",
                   secured: bool = True, error: str = "", security_fails: bool = False) -> ReaderEvent:
        """Put an item's tag on the pad (or change the one there with that UID).

        ``error`` stands for a tag that could not be decoded (then ``item_id`` stays empty);
        ``security_fails`` makes :meth:`set_security` fail for it, as a tag whose writes do not take.
        """
        uid = canonical_uid(uid_hex)
        if not error and not item_id.strip():
            raise ValueError("an item tag needs an item id (or an error for a tag that cannot be read)")
        if not 1 <= part <= parts:
            raise ValueError(f"part {part} of {parts} is not a part of a set")
        tag = ItemTag(uid=uid, item_id="" if error else item_id.strip(), parts=parts, part=part, owner=owner,
                      secured=secured, error=error)
        with self._lock:
            self._pad[uid] = tag
            (self._stuck.add if security_fails else self._stuck.discard)(uid)
            return self._pad_changed()

    def remove_item(self, uid_hex: str) -> ReaderEvent:
        """Take an item's tag off the pad."""
        uid = canonical_uid(uid_hex)
        with self._lock:
            if self._pad.pop(uid, None) is None:
                raise ValueError(f"no item tag {uid} is on the pad")
            self._stuck.discard(uid)
            return self._pad_changed()

    def tags(self) -> tuple[ItemTag, ...]:
        with self._lock:
            return tuple(self._pad.values())

    def set_security(self, uid: str, secured: bool) -> ItemTag:
        """Mark a tag on the pad for the gate, as :meth:`ItemPadReader.set_security` does."""
        uid = canonical_uid(uid)
        with self._lock:
            tag = self._pad.get(uid)
            if tag is None:
                raise TagLost(f"tag {uid} is not on the pad {self.name!r}")
            if uid in self._stuck:
                raise SecurityNotSet(f"tag {uid}: the security state did not read back as written")
            self._pad[uid] = tag = replace(tag, secured=secured)
            return tag

    def _pad_changed(self) -> ReaderEvent:
        items = tuple(self._pad.values())
        event = self.event(ITEM_TAGS, " ".join(t.uid for t in items), technology="iso15693")
        event = replace(event, items=items)
        self._pending.put(event)
        return event

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
