"""Barcode scanners: USB keyboard-wedge scanners through evdev, and serial scanners.

* ``{"type": "evdev", "path": "/dev/input/by-id/...-event-kbd"}`` reads key events of a
  scanner that acts as a keyboard (grabbed, so its keystrokes do not reach other apps).
  :class:`KeyDecoder` turns key events into codes and is independent of the device.
* ``{"type": "serial", "path": "/dev/ttyACM0", "baudrate": 9600}`` reads one code per
  line (CR and/or LF terminated).
"""
from __future__ import annotations

import select
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from hardware.base import Reader, ReaderLost
from hardware.events import BARCODE, ReaderEvent

if TYPE_CHECKING:  # optional packages (the ``readers`` extra), imported when a scanner opens
    import serial
    from evdev import InputDevice, InputEvent


class KeyDecoder:
    """Turns evdev key events into scanned codes: one code per Enter key press."""

    def __init__(self) -> None:
        from evdev import ecodes
        self.ecodes = ecodes
        self.keymap = {getattr(ecodes, f"KEY_{c}"): c for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
        self.keymap.update({getattr(ecodes, f"KEY_KP{c}"): c for c in "0123456789"})
        self.keymap.update({ecodes.KEY_MINUS: "-", ecodes.KEY_DOT: ".", ecodes.KEY_SLASH: "/",
                            ecodes.KEY_SPACE: " ", ecodes.KEY_KPMINUS: "-",
                            ecodes.KEY_KPPLUS: "+", ecodes.KEY_EQUAL: "="})
        self.shifted = {"-": "_", "=": "+", "/": "?", ".": ">"}
        self.shift_keys = {ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT}
        self.enter_keys = {ecodes.KEY_ENTER, ecodes.KEY_KPENTER}
        self._chars: list[str] = []
        self._shift = False

    def feed(self, event: InputEvent) -> str | None:
        """Take one ``evdev.InputEvent``; return a code when Enter completes it."""
        if event.type != self.ecodes.EV_KEY:
            return None
        if event.code in self.shift_keys:
            self._shift = event.value != 0                  # down or autorepeat: held
            return None
        if event.value != 1:                                # only key-down counts
            return None
        if event.code in self.enter_keys:
            code, self._chars = "".join(self._chars), []
            return code or None
        char = self.keymap.get(event.code)
        if char is not None:
            if char.isalpha():
                char = char if self._shift else char.lower()
            elif self._shift:
                char = self.shifted.get(char, char)
            self._chars.append(char)
        return None

    def decode(self, events: Iterable[InputEvent]) -> Iterator[str]:
        """Every code in a sequence of input events."""
        for event in events:
            code = self.feed(event)
            if code is not None:
                yield code


class EvdevScanner(Reader):
    technology = "barcode"

    def __init__(self, path: str, name: str | None = None, grab: bool = True, **retry: float):
        super().__init__(name or f"Barcode scanner ({path})", **retry)
        self.path, self.grab = path, grab
        self.device: InputDevice[str] | None = None

    def open_device(self) -> InputDevice[str]:
        """The input device to read (an ``evdev.InputDevice``)."""
        import evdev
        return evdev.InputDevice(self.path)

    def open(self) -> None:
        try:
            self.device = self.open_device()
            if self.grab:
                self.device.grab()
        except OSError as exc:
            raise ReaderLost(f"cannot open scanner {self.path}: {exc}") from None

    def read_events(self, stop: threading.Event) -> Iterator[ReaderEvent]:
        device = self.device
        assert device is not None, "read_events runs after a successful open()"
        decoder = KeyDecoder()
        while not stop.is_set():
            if not select.select([device.fileno()], [], [], 0.2)[0]:
                continue
            try:
                events = list(device.read())
            except BlockingIOError:
                continue
            except OSError as exc:                          # ENODEV when unplugged
                raise ReaderLost(f"scanner {self.path} went away: {exc}") from None
            for code in decoder.decode(events):
                yield self.event(BARCODE, code)

    def close(self) -> None:
        if self.device is not None:
            try:
                self.device.close()
            except OSError:
                pass
            self.device = None


class SerialScanner(Reader):
    technology = "barcode"

    def __init__(self, path: str, name: str | None = None, baudrate: int = 9600, **retry: float):
        super().__init__(name or f"Barcode scanner ({path})", **retry)
        self.path, self.baudrate = path, baudrate
        self.port: serial.Serial | None = None

    def open(self) -> None:
        import serial
        try:
            self.port = serial.Serial(self.path, self.baudrate, timeout=0.2)
        except (serial.SerialException, OSError) as exc:
            raise ReaderLost(f"cannot open scanner {self.path}: {exc}") from None

    def read_events(self, stop: threading.Event) -> Iterator[ReaderEvent]:
        import serial
        port = self.port
        assert port is not None, "read_events runs after a successful open()"
        pending = b""
        while not stop.is_set():
            try:
                pending += port.read(port.in_waiting or 1)
            except (serial.SerialException, OSError) as exc:
                raise ReaderLost(f"scanner {self.path} went away: {exc}") from None
            *lines, pending = pending.replace(b"\r", b"\n").split(b"\n")
            for line in lines:
                code = line.decode("ascii", "replace").strip()
                if code:
                    yield self.event(BARCODE, code)

    def close(self) -> None:
        if self.port is not None:
            try:
                self.port.close()
            except OSError:
                pass
            self.port = None
