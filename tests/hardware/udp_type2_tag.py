"""An ISO 14443-A Type 2 tag on nfcpy's UDP driver (adapted from the hardware lab).

nfcpy's ``udp:HOST:PORT`` front end sends ``"106A <hex>"`` datagrams; this tag answers
REQA/WUPA, anticollision and select at each cascade level (4, 7 and 10-byte UIDs), READ
and GET_VERSION, so unmodified nfcpy finds it. ``tap()`` binds the port, ``remove()``
closes it.
"""
from __future__ import annotations

import select
import socket
import threading
from functools import reduce
from operator import xor

NTAG215_VERSION = bytes.fromhex("0004040201001103")


class UdpType2Tag:
    def __init__(self, uid: bytes | str, port: int, host: str = "127.0.0.1"):
        self.uid = bytes.fromhex(uid) if isinstance(uid, str) else bytes(uid)
        assert len(self.uid) in (4, 7, 10)
        self.addr = (host, port)
        memory = bytearray(4 * 135)                   # blank NTAG: UID pages, CC, empty NDEF
        u = self.uid.ljust(7, b"\0")
        memory[0:3] = u[0:3]
        memory[3] = 0x88 ^ u[0] ^ u[1] ^ u[2]
        memory[4:8] = u[3:7]
        memory[8] = u[3] ^ u[4] ^ u[5] ^ u[6]
        memory[12:16] = bytes.fromhex("E1103E00")
        memory[16:19] = bytes.fromhex("0300FE")
        self.memory = bytes(memory)
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def _cascade_levels(self) -> list[bytes]:
        u = self.uid
        levels = {4: [u], 7: [b"\x88" + u[:3], u[3:]],
                  10: [b"\x88" + u[:3], b"\x88" + u[3:6], u[6:]]}[len(u)]
        return [level + bytes([reduce(xor, level)]) for level in levels]

    def reply(self, cmd: bytes) -> bytes | None:
        levels = self._cascade_levels()
        if cmd in (b"\x26", b"\x52"):                                 # REQA / WUPA
            return {4: b"\x04\x00", 7: b"\x44\x00", 10: b"\x84\x00"}[len(self.uid)]
        for i, sel in enumerate(b"\x93\x95\x97"[:len(levels)]):
            if cmd == bytes([sel, 0x20]):                             # anticollision
                return levels[i]
            if cmd == bytes([sel, 0x70]) + levels[i]:                 # select
                return b"\x04" if i < len(levels) - 1 else b"\x00"   # SAK 00: Type 2
        if cmd[:1] == b"\x30" and len(cmd) == 2:                      # READ 4 pages
            start = cmd[1] * 4
            return (self.memory * 2)[start:start + 16]
        if cmd == b"\x60":                                            # GET_VERSION
            return NTAG215_VERSION
        return None                                                   # silence, like a tag

    def _serve(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            if not select.select([sock], [], [], 0.05)[0]:
                continue
            try:
                data, peer = sock.recvfrom(1024)
                brty, hexdata = data.split()
            except (OSError, ValueError):
                continue
            answer = self.reply(bytes.fromhex(hexdata.decode())) if brty == b"106A" else None
            if answer is not None:
                sock.sendto(brty + b" " + answer.hex().encode(), peer)

    def tap(self) -> UdpType2Tag:
        self._stop.clear()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(self.addr)
        self._thread = threading.Thread(target=self._serve, args=(self._sock,), daemon=True)
        self._thread.start()
        return self

    def remove(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(1)
        if self._sock:
            self._sock.close()
        self._sock = self._thread = None

    __enter__ = tap

    def __exit__(self, *exc):
        self.remove()
