"""Run a reader in a thread, debounced like the service does, and wait for its events."""
from __future__ import annotations

import queue
import socket
import threading
import time

from hardware.base import Reader
from hardware.debounce import Debouncer
from hardware.events import ReaderEvent


class ManualClock:
    """A clock for the debouncer that moves only when the test says (``advance``): a test lets the debounce
    window pass without waiting for it."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RunningReader:
    def __init__(self, reader: Reader, debounce_seconds: float = 2.0, clock=time.monotonic):
        self.reader = reader
        self.debouncer = Debouncer(debounce_seconds, clock)
        self.events: queue.Queue[ReaderEvent] = queue.Queue()  # what the debouncer let through (the taps)
        self.ignored: queue.Queue[ReaderEvent] = queue.Queue()  # the sightings it held back
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RunningReader:
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)
        assert not self.thread.is_alive(), "reader did not stop within 5 s"

    def _run(self):
        for event in self.reader.events(self.stop):
            (self.events if self.debouncer.accept(event) else self.ignored).put(event)

    def expect(self, kind: str, value: str | None = None, timeout: float = 5.0) -> ReaderEvent:
        """The next event, which must be of ``kind`` (and ``value``)."""
        return self._next(self.events, kind, value, timeout)

    def expect_ignored(self, kind: str, value: str | None = None, timeout: float = 5.0) -> ReaderEvent:
        """The next sighting the debouncer held back (the reader saw it; no tap was published for it), which
        must be of ``kind`` (and ``value``)."""
        return self._next(self.ignored, kind, value, timeout)

    def _next(self, events: queue.Queue, kind: str, value: str | None, timeout: float) -> ReaderEvent:
        try:
            event = events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {kind} event within {timeout} s") from None
        assert event.kind == kind, f"expected {kind}, got {event}"
        if value is not None:
            assert event.value == value, f"expected {kind} {value}, got {event}"
        assert event.reader == self.reader.name
        return event

    def expect_nothing(self, seconds: float) -> None:
        try:
            event = self.events.get(timeout=seconds)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected event {event}")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
