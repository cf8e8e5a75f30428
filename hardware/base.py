"""The reader interface every back end implements, and the registry that opens them.

A back end implements :meth:`Reader.open`, :meth:`Reader.read_events` and
:meth:`Reader.close`; the shared :meth:`Reader.events` loop turns them into one endless
stream that also reports the reader going away (``reader_lost``), retries with
exponential backoff, and reports it coming back (``reader_back``).
"""
from __future__ import annotations

import importlib
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any

from hardware.events import READER_BACK, READER_LOST, ReaderEvent

log = logging.getLogger(__name__)

# type -> "module:Class"; modules are imported only when a device of that type is opened,
# so the optional packages (pyscard, nfcpy, evdev, pyserial) are needed only when used.
BACKENDS = {
    "simulator": "hardware.simulator:SimulatorReader",
    "pcsc": "hardware.pcsc_reader:PcscReader",
    "iso15693": "hardware.iso15693_reader:ItemPadReader",
    "nfcpy": "hardware.nfcpy_reader:NfcpyReader",
    "serial": "hardware.scanner:SerialScanner",
    "evdev": "hardware.scanner:EvdevScanner",
}


class ReaderLost(Exception):
    """Raised by a back end when its device is missing or stopped answering."""


class TagLost(RuntimeError):
    """An item tag left the pad (or stopped answering) while it was read or written, or is not on the pad."""


class SecurityNotSet(RuntimeError):
    """An item tag's security state could not be set, or did not read back as written."""

    code = "security_not_set"     # what the kiosk refuses a checkout with


class Reader(ABC):
    """A card reader or barcode scanner that yields :class:`ReaderEvent` objects."""

    technology = ""

    def __init__(self, name: str, retry_initial: float = 0.5, retry_max: float = 10.0):
        self.name = name
        self.retry_initial = retry_initial
        self.retry_max = retry_max

    @abstractmethod
    def open(self) -> None:
        """Open the device; raise :class:`ReaderLost` (or ``OSError``) if it is not there."""

    @abstractmethod
    def read_events(self, stop: threading.Event) -> Iterator[ReaderEvent]:
        """Yield card/removed/barcode events until ``stop`` is set (then return).

        Raise :class:`ReaderLost` (or ``OSError``) when the device goes away. Check
        ``stop`` at least every half second.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the device; safe to call when it is gone or was never fully opened."""

    def events(self, stop: threading.Event) -> Iterator[ReaderEvent]:
        """All events of this reader until ``stop`` is set, surviving unplug and replug.

        The first successful open yields ``reader_back`` (the reader is online); each
        failure yields one ``reader_lost`` and then retries with exponential backoff.
        """
        delay, online = self.retry_initial, None
        while not stop.is_set():
            try:
                try:
                    self.open()
                    if online is not True:
                        online, delay = True, self.retry_initial
                        yield self.event(READER_BACK)
                    yield from self.read_events(stop)
                finally:
                    self.close()                    # also after a half-finished open()
            except (ReaderLost, OSError) as exc:
                if online is not False:
                    online = False
                    log.warning("reader %s lost: %s", self.name, exc)
                    yield self.event(READER_LOST, str(exc) or type(exc).__name__)
                stop.wait(delay)
                delay = min(delay * 2, self.retry_max)

    def event(self, kind: str, value: str = "", raw: str = "",
              technology: str | None = None) -> ReaderEvent:
        """A new event from this reader, stamped now."""
        return ReaderEvent(kind=kind, reader=self.name, value=value, raw=raw,
                           technology=self.technology if technology is None else technology,
                           at=time.time())


def open_reader(spec: Mapping[str, Any]) -> Reader:
    """Create the reader described by one ``devices`` entry, e.g. ``{"type": "pcsc"}``.

    The back end's module is imported here, only for the types actually configured.
    """
    options = dict(spec)
    kind = options.pop("type", None)
    if kind not in BACKENDS:
        raise ValueError(f"unknown reader type {kind!r}; expected one of {', '.join(BACKENDS)}")
    module_name, class_name = BACKENDS[kind].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"reader type {kind!r} needs the optional 'readers' packages "
                          f"(pip install 'library-kiosk[readers]'): {exc}") from exc
    try:
        reader_class: type[Reader] = getattr(module, class_name)
        return reader_class(**options)
    except TypeError as exc:
        raise ValueError(f"bad options for a {kind} reader {spec!r}: {exc}") from None
