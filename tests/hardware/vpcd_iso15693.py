"""A virtual ISO 15693 library item tag (NXP ICODE SLIX-like) behind pcscd's vpcd driver.

It answers what a PC/SC reader that speaks ISO 15693 answers for the tag in its field: GET DATA (the UID),
READ BINARY and UPDATE BINARY of 4-byte blocks, and, through the transparent exchange ``FF 00 00 00 Lc
<request frame>``, the ISO 15693 commands GET SYSTEM INFORMATION, WRITE AFI and NXP's SET EAS, RESET EAS and
EAS ALARM (silent while EAS is reset, as the chip is). Addressed frames must carry its UID (LSB first).

Faults for the tests: ``vanish_after_reads`` (the tag leaves the field after that many READ BINARY: the
connection to vpcd closes in the middle of a read) and ``ignore_security_writes`` (the chip acknowledges
WRITE AFI / SET EAS / RESET EAS and changes nothing, so only reading back can tell).
"""
from __future__ import annotations

import socket

from tests.hardware.vpcd_card import VirtualCard

# PC/SC part 3 ATR of a storage card, standard byte 0B: ISO 15693 part 3
ISO15693_ATR = bytes.fromhex("3B8F8001804F0CA0000003060B0000000000000063")
OK, NO_ANSWER, WRONG_P1P2, NOT_SUPPORTED = b"\x90\x00", b"\x64\x01", b"\x6b\x00", b"\x6d\x00"
BLOCK = 4


class VirtualItemTag(VirtualCard):
    def __init__(self, uid: str, port: int, memory: bytes = b"", blocks: int = 28, afi: int = 0x07,
                 eas: bool = True, dsfid: int = 0x06, vanish_after_reads: int | None = None,
                 ignore_security_writes: bool = False):
        super().__init__(uid, port, atr=ISO15693_ATR)
        assert len(self.uid) == 8, "an ISO 15693 UID has 8 bytes"
        self.memory = bytearray(memory.ljust(blocks * BLOCK, b"\0"))
        assert len(self.memory) == blocks * BLOCK, "the item data does not fit the tag"
        self.afi, self.eas, self.dsfid = afi, eas, dsfid
        self.vanish_after_reads = vanish_after_reads
        self.ignore_security_writes = ignore_security_writes
        self.reads = 0

    @property
    def blocks(self) -> int:
        return len(self.memory) // BLOCK

    def answer(self, apdu: bytes) -> bytes:
        if apdu[:2] == b"\xff\xca":
            return self.uid + OK
        if apdu[:2] == b"\xff\xb0":
            return self._read(apdu[3], apdu[4] if len(apdu) > 4 else BLOCK)
        if apdu[:2] == b"\xff\xd6":
            return self._write(apdu[3], apdu[5:5 + apdu[4]])
        if apdu[:4] == b"\xff\x00\x00\x00":
            response = self.iso15693(apdu[5:5 + apdu[4]])
            return NO_ANSWER if response is None else response + OK
        return NOT_SUPPORTED

    def _read(self, block: int, size: int) -> bytes:
        self.reads += 1
        if self.vanish_after_reads is not None and self.reads > self.vanish_after_reads:
            self._leave_field()
        start = block * BLOCK
        if block >= self.blocks or start + size > len(self.memory):
            return WRONG_P1P2
        return bytes(self.memory[start:start + size]) + OK

    def _write(self, block: int, data: bytes) -> bytes:
        if block >= self.blocks or len(data) != BLOCK:
            return WRONG_P1P2
        self.memory[block * BLOCK:(block + 1) * BLOCK] = data
        return OK

    def _leave_field(self) -> None:
        """Close the connection to vpcd now, in the middle of a command: pcscd sees the tag go."""
        if self._sock is not None:
            self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
            self._sock = None
        raise ConnectionAbortedError("the tag left the field")

    def iso15693(self, frame: bytes) -> bytes | None:
        """The response frame to one ISO 15693 request frame, or None when the chip keeps silent."""
        flags, command, rest = frame[0], frame[1], frame[2:]
        custom = command >= 0xA0
        if custom:
            if rest[:1] != b"\x04":
                return None                                # another manufacturer's command
            rest = rest[1:]
        if flags & 0x20:                                   # addressed: the UID, LSB first
            if rest[:8] != self.uid[::-1]:
                return None
            rest = rest[8:]
        if command == 0x2B:                                # GET SYSTEM INFORMATION
            return bytes([0x00, 0x0F]) + self.uid[::-1] + bytes([self.dsfid, self.afi, self.blocks - 1,
                                                                 BLOCK - 1, 0x01])
        if command == 0x27:                                # WRITE AFI
            if not self.ignore_security_writes:
                self.afi = rest[0]
            return b"\x00"
        if command in (0xA2, 0xA3):                        # SET EAS, RESET EAS
            if not self.ignore_security_writes:
                self.eas = command == 0xA2
            return b"\x00"
        if command == 0xA5:                                # EAS ALARM: 32 bytes of EAS sequence while set
            return b"\x00" + bytes(range(32)) if self.eas else None
        return b"\x01\x01"                                 # error: command not supported
