"""Library item tags (ISO 15693, ISO 28560 data) on a PC/SC reader's pad (``{"type": "iso15693"}``).

A pad is every PC/SC reader (or slot) whose name contains ``match``: a reader that sees several tags at
once shows each as its own slot. Whenever a tag arrives or leaves, every tag there is listed in one
``item_tags`` event (:class:`hardware.events.ItemTag`: UID, item id, set information, security state).

Through the PC/SC 2.01 part 3 pseudo-APDUs: GET DATA ``FF CA 00 00 00`` (the UID), READ BINARY
``FF B0 00 <block> 04`` and UPDATE BINARY ``FF D6 00 <block> 04 <data>`` (4-byte blocks). The memory is
decoded as ``[readers] item_data_model`` says (``hardware/iso28560.py``). ISO 15693 commands that have no
pseudo-APDU go through the reader's transparent exchange ``FF 00 00 00 Lc <request frame>`` (answered
``<response frame> 90 00``; the form the ACS readers' "direct transmit" uses, reader-specific elsewhere),
addressed to the tag's UID: GET SYSTEM INFORMATION (2B: DSFID, AFI), WRITE AFI (27), and NXP ICODE SLIX's
custom SET EAS (A2), RESET EAS (A3) and EAS ALARM (A5, answered only while EAS is set).

Security (``[readers] item_security``): ``afi`` writes ``afi_in_library`` on return and ``afi_on_loan`` on
checkout (ISO 28560-1 and NISO RP-6-2012's common values: 0x07 in the library, 0xC2 on loan; 3M systems
use 0xD7 and 0xDA), ``eas`` sets or resets the EAS bit, ``both`` does both. Every write is read back;
:class:`SecurityNotSet` says what did not take (the kiosk then refuses the checkout: ``security_not_set``).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import replace

from smartcard import scard

from hardware import iso28560
from hardware.base import Reader, ReaderLost, SecurityNotSet, TagLost
from hardware.config import ItemSecurity
from hardware.events import ITEM_TAGS, ItemTag, ReaderEvent
from hardware.pcsc_reader import list_readers, open_context
from hardware.uid import canonical_uid

log = logging.getLogger(__name__)

GET_UID = [0xFF, 0xCA, 0x00, 0x00, 0x00]
TRANSPARENT = [0xFF, 0x00, 0x00, 0x00]
OK = [0x90, 0x00]
GONE = scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE
NXP = 0x04                                  # IC manufacturer code of the ICODE custom commands
ADDRESSED = 0x22                            # request flags: addressed, high data rate
GET_SYSTEM_INFO, WRITE_AFI, SET_EAS, RESET_EAS, EAS_ALARM = 0x2B, 0x27, 0xA2, 0xA3, 0xA5


class ItemPadReader(Reader):
    technology = "iso15693"

    def __init__(self, name: str = "Item pad", match: str | None = None, poll_seconds: float = 0.25,
                 data_model: str = iso28560.MODEL_2, security: ItemSecurity | str | None = None,
                 max_blocks: int = 64, **retry: float):
        super().__init__(name, **retry)
        if data_model not in iso28560.DATA_MODELS:
            raise ValueError(f"item_data_model must be one of {', '.join(iso28560.DATA_MODELS)}, "
                             f"not {data_model!r}")
        self.match = name if match is None else match
        self.poll_ms = int(poll_seconds * 1000)
        self.data_model = data_model
        # a device entry may name its own mode (``security = "eas"``); the service passes the library's
        self.security = ItemSecurity(security) if isinstance(security, str) else security or ItemSecurity()
        self.max_blocks = max_blocks
        self._context: int | None = None
        self.slots: list[str] = []             # the PC/SC reader names of the pad
        self._lock = threading.Lock()
        self._pad: dict[str, ItemTag] = {}      # slot -> the tag read there

    # --- the Reader interface ---------------------------------------------------------------------------

    def open(self) -> None:
        self._context = None
        self._context = open_context()
        names = list_readers(self._context)
        self.slots = [n for n in names or [] if self.match and self.match in n]
        if not self.slots:
            raise ReaderLost(f"no PC/SC reader matching {self.match!r} (found: {names or []})")

    def read_events(self, stop: threading.Event) -> Iterator[ReaderEvent]:
        known = {slot: scard.SCARD_STATE_UNAWARE for slot in self.slots}
        read: dict[str, int] = {}          # slot -> the insertion counter of the tag read there
        unread: dict[str, int] = {}        # slot -> the counter of a tag there not read yet (retried each poll)
        tried: set[str] = set()            # slots whose unread tag failed once (logged once)
        while not stop.is_set():
            hresult, states = scard.SCardGetStatusChange(
                self._context, self.poll_ms, [(slot, known[slot]) for slot in self.slots])
            if hresult not in (scard.SCARD_S_SUCCESS, scard.SCARD_E_TIMEOUT):
                raise ReaderLost(f"pcscd: {scard.SCardGetErrorMessage(hresult)}")
            changed = False
            for slot, state, _atr in states if hresult == scard.SCARD_S_SUCCESS else []:
                if state & GONE:
                    raise ReaderLost(f"PC/SC reader {slot!r} disappeared")
                known[slot] = state & ~scard.SCARD_STATE_CHANGED
                there = bool(state & scard.SCARD_STATE_PRESENT) and not state & scard.SCARD_STATE_MUTE
                counter = state >> 16                          # pcsc-lite counts card events here
                if read.get(slot, unread.get(slot)) != (counter if there else None):   # came, went or changed
                    changed |= self._forget(slot)
                    read.pop(slot, None)
                    unread.pop(slot, None)
                    tried.discard(slot)
                    if there:
                        unread[slot] = counter
            for slot in list(unread):
                if self._read_into_pad(slot, log_failure=slot not in tried):
                    read[slot] = unread.pop(slot)
                    changed = True
                else:
                    tried.add(slot)
            if changed:
                yield self.event(ITEM_TAGS, " ".join(t.uid for t in self.tags()), items=self.tags())

    def close(self) -> None:
        """Release pcscd; the pad's listing ends with it (the ``reader_lost`` that follows voids it)."""
        if self._context is not None:
            scard.SCardReleaseContext(self._context)
            self._context = None
        with self._lock:
            self._pad.clear()

    def event(self, kind: str, value: str = "", raw: str = "", technology: str | None = None,
              items: tuple[ItemTag, ...] = ()) -> ReaderEvent:
        return replace(super().event(kind, value, raw, technology), items=items)

    # --- the pad ----------------------------------------------------------------------------------------

    def tags(self) -> tuple[ItemTag, ...]:
        """The tags on the pad now, in slot order."""
        with self._lock:
            return tuple(self._pad[slot] for slot in self.slots if slot in self._pad)

    def _forget(self, slot: str) -> bool:
        """Take a slot's tag off the pad; True if one was listed."""
        with self._lock:
            return self._pad.pop(slot, None) is not None

    def _read_into_pad(self, slot: str, log_failure: bool = True) -> bool:
        """Read the tag in ``slot`` onto the pad; False (and nothing listed: no partial item) if it went."""
        try:
            tag = self.read_tag(slot)
        except TagLost as exc:
            log.log(logging.WARNING if log_failure else logging.DEBUG, "item tag on %s not read: %s", slot, exc)
            return False
        with self._lock:
            self._pad[slot] = tag
        return True

    def read_tag(self, slot: str) -> ItemTag:
        """The tag in ``slot``, read and decoded. Raises :class:`TagLost` when it leaves meanwhile.

        Data that does not decode still gives a tag, with ``error`` saying why (the kiosk says "this item
        could not be read; please take it to the desk").
        """
        with _Connection(slot) as tag:
            uid = tag.uid()
            memory = tag.read_memory(self.data_model, self.max_blocks)
            afi, eas = tag.afi(), tag.eas()
        secured = self.security.secured(afi, eas)
        try:
            item = iso28560.decode(memory, self.data_model)
        except iso28560.TagDataError as exc:
            return ItemTag(uid=uid, secured=secured, afi=afi, eas=eas, error=str(exc))
        return ItemTag(uid=uid, item_id=item.item_id, parts=item.parts, part=item.part, owner=item.owner,
                       secured=secured, afi=afi, eas=eas)

    def _slot_of(self, uid: str) -> str:
        uid = canonical_uid(uid)
        with self._lock:
            slot = next((s for s, tag in self._pad.items() if tag.uid == uid), None)
        if slot is None:
            raise TagLost(f"tag {uid} is not on the pad {self.name!r}")
        return slot

    def set_security(self, uid: str, secured: bool) -> ItemTag:
        """Mark the tag for the gate (True: in the library, on return; False: on loan, at checkout).

        Writes the AFI and/or the EAS bit as configured, reads them back, and answers the tag as it is
        now. Raises :class:`SecurityNotSet` when a write fails or does not read back, :class:`TagLost` when
        the tag is not (or no longer) on the pad.
        """
        slot = self._slot_of(uid)
        wanted_afi = self.security.afi_in_library if secured else self.security.afi_on_loan
        with _Connection(slot) as tag:
            if tag.uid() != canonical_uid(uid):
                raise TagLost(f"tag {canonical_uid(uid)} left the pad before its security was set")
            if self.security.mode in ("afi", "both"):
                tag.write_afi(wanted_afi)
                afi = tag.afi()
                if afi != wanted_afi:
                    shown = "nothing" if afi is None else f"{afi:#04x}"
                    raise SecurityNotSet(f"tag {uid}: the AFI reads back {shown}, not {wanted_afi:#04x}")
            if self.security.mode in ("eas", "both"):
                tag.write_eas(secured)
                if tag.eas() is not secured:
                    raise SecurityNotSet(f"tag {uid}: the EAS bit did not read back {'set' if secured else 'reset'}")
            afi, eas = tag.afi(), tag.eas()
        with self._lock:
            old = self._pad.get(slot)
            if old is not None:
                self._pad[slot] = updated = replace(old, afi=afi, eas=eas, secured=self.security.secured(afi, eas))
                return updated
        return ItemTag(uid=canonical_uid(uid), afi=afi, eas=eas, secured=self.security.secured(afi, eas))

    def write_item(self, uid: str, item: iso28560.ItemData, blocks: int) -> None:
        """Program a tag of ``blocks`` blocks with ``item`` (the station's tagging), verified by reading back."""
        slot = self._slot_of(uid)
        memory = iso28560.encode(item, self.data_model, blocks)
        with _Connection(slot) as tag:
            tag.write_memory(memory)
            if tag.read_blocks(0, blocks) != memory:
                raise TagLost(f"tag {uid}: the item data did not read back as written")


class _Connection:
    """A PC/SC connection to one ISO 15693 tag, with the commands the pad needs."""

    def __init__(self, slot: str):
        self.slot = slot
        self._context: int | None = None
        self._card: int | None = None
        self._protocol = 0
        self._uid = b""

    def __enter__(self) -> _Connection:
        hresult, self._context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            raise TagLost(f"pcscd: {scard.SCardGetErrorMessage(hresult)}")
        hresult, self._card, self._protocol = scard.SCardConnect(
            self._context, self.slot, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        if hresult != scard.SCARD_S_SUCCESS:
            self.__exit__()
            raise TagLost(f"no tag to connect to on {self.slot!r}: {scard.SCardGetErrorMessage(hresult)}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._card is not None:
            scard.SCardDisconnect(self._card, scard.SCARD_LEAVE_CARD)
            self._card = None
        if self._context is not None:
            scard.SCardReleaseContext(self._context)
            self._context = None

    def transmit(self, apdu: list[int], what: str) -> tuple[list[int], list[int]]:
        """(data, status words); :class:`TagLost` when the tag is gone."""
        hresult, response = scard.SCardTransmit(self._card, self._protocol, apdu)
        if hresult != scard.SCARD_S_SUCCESS or len(response) < 2:
            raise TagLost(f"the tag on {self.slot!r} left the pad during {what} "
                          f"({scard.SCardGetErrorMessage(hresult)})")
        return list(response[:-2]), list(response[-2:])

    def uid(self) -> str:
        data, status = self.transmit(GET_UID, "reading its UID")
        if status != OK or not data:
            raise TagLost(f"the tag on {self.slot!r} did not give its UID ({bytes(status).hex()})")
        self._uid = bytes(data)
        return canonical_uid(self._uid)

    def read_blocks(self, first: int, count: int) -> bytes:
        memory = bytearray()
        for block in range(first, first + count):
            data, status = self.transmit([0xFF, 0xB0, 0x00, block, iso28560.BLOCK_SIZE], f"reading block {block}")
            if status != OK:
                raise TagLost(f"block {block} of the tag on {self.slot!r} could not be read ({bytes(status).hex()})")
            memory += bytes(data)
        return bytes(memory)

    def read_memory(self, model: str, max_blocks: int) -> bytes:
        """The user memory, block by block until the data is complete or the memory ends."""
        memory = bytearray()
        for block in range(max_blocks):
            data, status = self.transmit([0xFF, 0xB0, 0x00, block, iso28560.BLOCK_SIZE], f"reading block {block}")
            if status != OK:
                break                                      # past the end of the tag's memory
            memory += bytes(data)
            if iso28560.complete(bytes(memory), model):
                break
        return bytes(memory)

    def write_memory(self, memory: bytes) -> None:
        size = iso28560.BLOCK_SIZE
        for block in range(len(memory) // size):
            data = list(memory[block * size:(block + 1) * size])
            _, status = self.transmit([0xFF, 0xD6, 0x00, block, size, *data], f"writing block {block}")
            if status != OK:
                raise TagLost(f"block {block} of the tag on {self.slot!r} could not be written ({bytes(status).hex()})")

    def _iso15693(self, command: int, *payload: int, custom: bool = False) -> list[int] | None:
        """Send one addressed ISO 15693 request; its response after the flags byte, or None if the tag kept
        silent (or answered an error)."""
        address = list(reversed(self._uid)) if self._uid[:1] == b"\xe0" else list(self._uid)   # LSB first
        frame = [ADDRESSED, command, *([NXP] if custom else []), *address, *payload]
        data, status = self.transmit([*TRANSPARENT, len(frame), *frame], f"command {command:02X}")
        if status != OK or not data or data[0] & 0x01:
            return None
        return data[1:]

    def afi(self) -> int | None:
        info = self._iso15693(GET_SYSTEM_INFO)
        index = 9 + (info[0] & 0x01 if info else 0)       # info flags, UID (8), the DSFID if flagged, the AFI
        if info is None or len(info) <= index or not info[0] & 0x02:
            return None
        return info[index]

    def eas(self) -> bool:
        return self._iso15693(EAS_ALARM, custom=True) is not None

    def write_afi(self, afi: int) -> None:
        if self._iso15693(WRITE_AFI, afi) is None:
            raise SecurityNotSet(f"the tag on {self.slot!r} refused to write its AFI (locked?)")

    def write_eas(self, on: bool) -> None:
        if self._iso15693(SET_EAS if on else RESET_EAS, custom=True) is None:
            raise SecurityNotSet(f"the tag on {self.slot!r} refused to {'set' if on else 'reset'} its EAS bit")
