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
ITEM_TAGS = "item_tags"        # the item tags on a pad changed (items: every tag there now; value: their UIDs)
KINDS = (CARD, REMOVED, BARCODE, READER_LOST, READER_BACK, ITEM_TAGS)


@dataclass(frozen=True)
class ItemTag:
    """One library item's RFID tag on a pad (ISO 15693, ISO 28560 data; hardware/iso15693_reader.py).

    ``uid`` is the tag's canonical UID; ``item_id`` the primary item identifier (the item's barcode, as a
    rule), ``part`` of ``parts`` its place in a multi-part set, ``owner`` the owner library's ISIL ("" when
    the tag does not say). ``secured`` is whether the exit gate would alarm (True: in the library; False: on
    loan; None: unknown, or AFI and EAS disagree), from ``afi`` and ``eas`` as read (None: not read).
    ``error`` says why the tag could not be read ("" when it was); its item fields are then empty.
    """

    uid: str
    item_id: str = ""
    parts: int = 1
    part: int = 1
    owner: str = ""
    secured: bool | None = None
    afi: int | None = None
    eas: bool | None = None
    error: str = ""


def missing_parts(items: tuple[ItemTag, ...] | list[ItemTag]) -> dict[str, list[int]]:
    """Items of several parts not all on the pad: ``{item_id: [the missing part numbers]}``.

    The kiosk refuses such an item ("part 2 of 3 is missing") until every part is there.
    """
    seen: dict[str, tuple[int, set[int]]] = {}
    for tag in items:
        if tag.item_id and tag.parts > 1:
            parts, present = seen.setdefault(tag.item_id, (tag.parts, set()))
            present.add(tag.part)
    return {item_id: sorted(set(range(1, parts + 1)) - present)
            for item_id, (parts, present) in seen.items() if len(present) < parts}


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
    items: tuple[ItemTag, ...] = ()      # item_tags events only: every tag on the pad now

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown reader event kind {self.kind!r}; expected one of {KINDS}")

    def to_json(self) -> str:
        data = asdict(self)
        if not self.items and self.kind != ITEM_TAGS:
            del data["items"]                       # card, barcode and status events keep their shape
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> ReaderEvent:
        data = json.loads(text)
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        if "items" in known:
            fields = ItemTag.__dataclass_fields__
            known["items"] = tuple(ItemTag(**{k: v for k, v in item.items() if k in fields})
                                   for item in known["items"])
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
