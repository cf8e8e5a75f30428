"""The events a reader produces, and the reader status the service publishes.

Both travel as JSON between the reader service and the kiosk (see :mod:`hardware.service`).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

CARD = "card"                  # a card was presented (value: canonical UID hex)
REMOVED = "removed"            # the card was taken away (value: canonical UID hex)
BARCODE = "barcode"            # a barcode was scanned (value: the code)
READER_LOST = "reader_lost"    # the reader went away or cannot be opened (value: reason)
READER_BACK = "reader_back"    # the reader is online (first open or after a loss)
KINDS = (CARD, REMOVED, BARCODE, READER_LOST, READER_BACK)


@dataclass(frozen=True)
class ReaderEvent:
    """One thing that happened at one reader.

    ``value`` is the canonical UID (upper-case hex in reader order) for card events, the
    code for barcodes and a human-readable reason for ``reader_lost``. ``raw`` is the hex
    of the bytes as read (card events), ``formatted`` the UID in the library's configured
    presentation (filled in by the reader service), ``at`` a Unix timestamp.
    """

    kind: str
    reader: str
    value: str = ""
    technology: str = ""
    at: float = field(default_factory=time.time)
    raw: str = ""
    formatted: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown reader event kind {self.kind!r}; expected one of {KINDS}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> ReaderEvent:
        data = json.loads(text)
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


@dataclass(frozen=True)
class ReaderStatus:
    """Whether one configured reader is online right now."""

    name: str
    online: bool
    technology: str = ""


@dataclass(frozen=True)
class StatusEvent:
    """The state of every configured reader: ``{"readers": [{name, online, technology}]}``."""

    readers: tuple[ReaderStatus, ...] = ()

    def to_json(self) -> str:
        return json.dumps({"readers": [asdict(r) for r in self.readers]}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> StatusEvent:
        data = json.loads(text)
        return cls(tuple(ReaderStatus(r["name"], bool(r["online"]), r.get("technology", ""))
                         for r in data.get("readers", [])))

    def reader(self, name: str) -> ReaderStatus | None:
        return next((r for r in self.readers if r.name == name), None)
