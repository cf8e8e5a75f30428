"""PC/SC contactless readers through pcscd and pyscard (``{"type": "pcsc"}``).

Watches one reader with ``SCardGetStatusChange``: a card arriving is read with the
PC/SC part 3 GET DATA command ``FF CA 00 00 00`` (its UID), a card leaving is a removal,
and pcscd or the reader going away is reported as lost (the base class retries).

Options: ``name`` (shown to staff), ``match`` (part of the PC/SC reader name to use;
default: the name, or the first reader when neither matches), ``poll_seconds``.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator

from smartcard import scard

from hardware.base import Reader, ReaderLost
from hardware.events import CARD, REMOVED, ReaderEvent
from hardware.uid import canonical_uid

GET_UID = [0xFF, 0xCA, 0x00, 0x00, 0x00]
GONE = scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE
# PC/SC part 3 ATR of a storage card: 3B 8F 80 01 80 4F 0C A0 00 00 03 06 SS ...
PART3_PREFIX = bytes.fromhex("3B8F8001804F0CA000000306")
STANDARDS = {0x01: "iso14443a", 0x02: "iso14443a", 0x03: "iso14443a",
             0x05: "iso14443b", 0x06: "iso14443b", 0x07: "iso14443b",
             0x09: "iso15693", 0x0A: "iso15693", 0x0B: "iso15693", 0x0C: "iso15693",
             0x11: "felica"}


def technology_from_atr(atr: bytes) -> str:
    """The card technology a contactless reader's ATR announces (PC/SC part 3)."""
    if atr.startswith(PART3_PREFIX) and len(atr) > len(PART3_PREFIX):
        return STANDARDS.get(atr[len(PART3_PREFIX)], "iso14443")
    return "iso14443"


class PcscReader(Reader):
    technology = "iso14443a"

    def __init__(self, name: str = "PC/SC reader", match: str | None = None,
                 poll_seconds: float = 0.25, **retry: float):
        super().__init__(name, **retry)
        self.match = name if match is None else match
        self.poll_ms = int(poll_seconds * 1000)
        self._context: int | None = None        # the PC/SC context handle while open
        self.reader_name = ""                   # the PC/SC name of the reader in use

    def open(self) -> None:
        self._context = None
        self._context = open_context()
        names = list_readers(self._context)
        names = names or []
        chosen = [n for n in names if self.match and self.match in n] or \
                 (names[:1] if self.match == self.name else [])
        if not chosen:
            raise ReaderLost(f"no PC/SC reader matching {self.match!r} (found: {names})")
        self.reader_name = chosen[0]

    def read_events(self, stop: threading.Event) -> Iterator[ReaderEvent]:
        known_state, present, insertions = scard.SCARD_STATE_UNAWARE, None, None
        while not stop.is_set():
            hresult, states = scard.SCardGetStatusChange(
                self._context, self.poll_ms, [(self.reader_name, known_state)])
            if hresult == scard.SCARD_E_TIMEOUT:
                continue
            if hresult != scard.SCARD_S_SUCCESS:
                raise ReaderLost(f"pcscd: {scard.SCardGetErrorMessage(hresult)}")
            _, state, atr = states[0]
            if state & GONE:
                raise ReaderLost(f"PC/SC reader {self.reader_name!r} disappeared")
            known_state = state & ~scard.SCARD_STATE_CHANGED
            counter = state >> 16                       # pcsc-lite counts card events here
            card_there = state & scard.SCARD_STATE_PRESENT and not state & scard.SCARD_STATE_MUTE
            if present and (not card_there or counter != insertions):
                yield self.event(REMOVED, present, raw=present)
                present = None
            if card_there and present is None:
                uid = self._read_uid()
                if uid:
                    present, insertions = uid, counter
                    yield self.event(CARD, uid, raw=uid, technology=technology_from_atr(bytes(atr)))

    def close(self) -> None:
        if self._context is not None:
            scard.SCardReleaseContext(self._context)    # fails harmlessly if pcscd is gone
            self._context = None

    def _read_uid(self) -> str | None:
        """The UID of the card on the reader, or None if it could not be read."""
        hresult, card, protocol = scard.SCardConnect(
            self._context, self.reader_name, scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        if hresult != scard.SCARD_S_SUCCESS:
            return None
        try:
            hresult, response = scard.SCardTransmit(card, protocol, GET_UID)
        finally:
            scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
        if hresult != scard.SCARD_S_SUCCESS or len(response) < 3 or response[-2:] != [0x90, 0x00]:
            return None
        return canonical_uid(bytes(response[:-2]))


def open_context() -> int:
    """A PC/SC context from pcscd; ReaderLost when pcscd does not give one."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        raise ReaderLost(f"pcscd: {scard.SCardGetErrorMessage(hresult)}")
    return int(context)


def list_readers(context: int) -> list[str]:
    """The readers pcscd lists (none is an empty list); ReaderLost when pcscd cannot list them."""
    hresult, names = scard.SCardListReaders(context, [])
    if hresult not in (scard.SCARD_S_SUCCESS, scard.SCARD_E_NO_READERS_AVAILABLE):
        raise ReaderLost(f"pcscd: {scard.SCardGetErrorMessage(hresult)}")
    return list(names or [])
