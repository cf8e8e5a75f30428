"""A FeliCa (Type 3) card emulated by nfcpy itself on its UDP driver.

``tap()`` starts nfcpy's card emulation on the port the reader under test polls;
``remove()`` stops it and closes the port.
"""
from __future__ import annotations

import struct
import threading

import nfc
import nfc.clf


class FelicaCard:
    def __init__(self, idm: str, port: int):
        self.idm = bytearray.fromhex(idm)
        self.port = port
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        attribute = bytearray(16)                         # NDEF attribute block, empty NDEF
        attribute[0:3] = b"\x10\x01\x01"
        attribute[3:5] = struct.pack(">H", 4)
        attribute[10] = 1
        attribute[14:16] = struct.pack(">H", sum(attribute[:14]))
        self.memory = attribute + bytearray(64)

    def _on_startup(self, target):
        target.brty = "212F"
        target.sensf_res = b"\x01" + self.idm + bytearray.fromhex("01E0000000FFFF00") + b"\x12\xfc"
        return target

    def _on_connect(self, tag):
        def read(block, *_):
            if block < len(self.memory) // 16:
                return self.memory[block * 16:(block + 1) * 16]
        tag.add_service(0x0009, read, lambda *_: False)
        tag.add_service(0x000B, read, lambda *_: False)
        return True

    def _emulate(self):
        with nfc.ContactlessFrontend(f"udp:localhost:{self.port}") as frontend:
            while not self._stop.is_set():
                frontend.connect(card={"on-startup": self._on_startup, "on-connect": self._on_connect,
                                       "on-release": lambda tag: True, "timeout": 0.2},
                                 terminate=self._stop.is_set)

    def tap(self) -> FelicaCard:
        self._stop.clear()
        self._thread = threading.Thread(target=self._emulate, daemon=True)
        self._thread.start()
        return self

    def remove(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
            self._thread = None

    __enter__ = tap

    def __exit__(self, *exc):
        self.remove()
