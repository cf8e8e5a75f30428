"""Run a reader in a thread, debounced like the service does, and wait for its events."""
from __future__ import annotations

import queue
import socket
import threading

from hardware.base import Reader
from hardware.debounce import Debouncer
from hardware.events import ReaderEvent


class RunningReader:
    def __init__(self, reader: Reader, debounce_seconds: float = 2.0):
        self.reader = reader
        self.debouncer = Debouncer(debounce_seconds)
        self.events: queue.Queue[ReaderEvent] = queue.Queue()
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
            if self.debouncer.accept(event):
                self.events.put(event)

    def expect(self, kind: str, value: str | None = None, timeout: float = 5.0) -> ReaderEvent:
        """The next event, which must be of ``kind`` (and ``value``)."""
        try:
            event = self.events.get(timeout=timeout)
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
