"""Server-sent event streams that cannot starve a web app.

Both web apps with a reader (the kiosk and the staff station) push the reader
service's taps to the browser over ``/events``. A stream holds one of the
server's threads for as long as it is open, so three rules keep page requests
served whatever browsers do:

- **A stream notices when its browser has gone.** It writes a keepalive comment
  every ``keepalive_seconds`` whatever happens upstream; the write to a departed
  browser fails and the server ends the stream and frees its thread (at most two
  keepalives after the browser left: the first write after a close can still be
  buffered by the kernel).
- **Streams are bounded**: at most ``per_client`` per client address, where a new
  stream ends that client's oldest (a page reloaded, a tab opened again: the new
  page wins), and at most ``limit`` in all; a stream over the limit is refused at
  once with ``503`` and a retry hint, never queued. The app's thread pool is
  larger than ``limit`` (kiosk/serving.py), so page requests always have threads.
- **One subscription to the reader service per process** (``ReaderHub``), fanned
  out to every open stream: a browser's stream never holds a connection to the
  reader service, so nothing upstream waits on a departed browser.

The module is plain Python (no Flask): the apps render events to SSE text.
"""
from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

UNREACHABLE = "unreachable"  # what a ReaderHub publishes while the reader service cannot be reached
REACHABLE = "reachable"      # ... and once it can again (before any status)
_END = object()              # put in a stream's queue to end it (replaced by a newer stream of its client)


@dataclass
class Stream:
    """One open browser stream: the events for it wait in ``inbox``."""

    client: str
    number: int
    inbox: queue.Queue[object] = field(default_factory=lambda: queue.Queue(maxsize=100))

    def put(self, item: object) -> None:
        try:
            self.inbox.put_nowait(item)
        except queue.Full:  # a stream this far behind is stuck: it gets the newest events only
            log.warning("event stream %s of %s is full; an event was dropped", self.number, self.client)

    def end(self) -> None:
        try:
            self.inbox.put_nowait(_END)
        except queue.Full:
            with self.inbox.mutex:
                self.inbox.queue.clear()
            self.inbox.put_nowait(_END)


class StreamsFull(Exception):
    """Every stream slot is taken; the browser should try again after ``retry_seconds``."""

    def __init__(self, retry_seconds: int):
        super().__init__(f"too many event streams open; try again in {retry_seconds} s")
        self.retry_seconds = retry_seconds


class StreamBoard:
    """The open streams of one process, with their bounds."""

    def __init__(self, limit: int, per_client: int, retry_seconds: int = 5):
        if limit < 1 or per_client < 1:
            raise ValueError("stream limits must be at least 1")
        self.limit, self.per_client, self.retry_seconds = limit, per_client, retry_seconds
        self._open: list[Stream] = []
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)

    def open(self, client: str) -> Stream:
        """A new stream for ``client``; ends the client's oldest over ``per_client``; raises StreamsFull."""
        with self._lock:
            mine = [s for s in self._open if s.client == client]
            while len(mine) >= self.per_client:
                oldest = mine.pop(0)
                self._open.remove(oldest)
                oldest.end()
            if len(self._open) >= self.limit:
                raise StreamsFull(self.retry_seconds)
            stream = Stream(client, next(self._numbers))
            self._open.append(stream)
            return stream

    def close(self, stream: Stream) -> None:
        with self._lock:
            if stream in self._open:
                self._open.remove(stream)

    def publish(self, item: object) -> None:
        with self._lock:
            streams = list(self._open)
        for stream in streams:
            stream.put(item)

    def count(self) -> int:
        with self._lock:
            return len(self._open)


def sse(event: str, data: str) -> str:
    """One server-sent event; every line of ``data`` as its own ``data:`` line."""
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n"


def body(board: StreamBoard, stream: Stream, render: Callable[[object], str | None], first: list[str],
         keepalive_seconds: float) -> Iterator[str]:
    """The SSE text of one open ``stream``: ``first``, then each item rendered, a keepalive comment whenever
    nothing was written for ``keepalive_seconds``. Ends when replaced; closes its slot however it ends (the
    server closes the iterator when a write to the browser fails)."""
    try:
        yield f"retry: {board.retry_seconds * 1000}\n\n"
        yield from first
        while True:
            try:
                item = stream.inbox.get(timeout=keepalive_seconds)
            except queue.Empty:
                yield ": keepalive\n\n"
                continue
            if item is _END:
                return
            text = render(item)
            if text:
                yield text
    finally:
        board.close(stream)


class ReaderHub:
    """One subscription to the reader service for the whole process, published to a StreamBoard.

    Publishes each reader event and status as it comes, ``UNREACHABLE`` when the service cannot be reached
    (then tries again every ``retry_seconds``) and ``REACHABLE`` when it can again. ``last_status`` is what a
    new stream shows first. Started by the first stream, so it runs in the worker process, after the fork.
    """

    def __init__(self, url: str, board: StreamBoard, subscribe: Callable[[str], Iterator[object]],
                 retry_seconds: float = 3.0):
        self.url, self.board, self.subscribe, self.retry_seconds = url, board, subscribe, retry_seconds
        self.last_status: object = None
        self._started = False
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def ensure_started(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run, name="reader-hub", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for event in self.subscribe(self.url):
                    if self.last_status in (None, UNREACHABLE):
                        self._publish_status(REACHABLE)
                    if getattr(event, "readers", None) is not None:  # a StatusEvent
                        self._publish_status(event)
                    else:
                        self.board.publish(event)
                    if self._stop.is_set():
                        return
            except Exception as exc:  # (any failure of the service: say unreachable, try again)
                log.info("reader service at %s not reachable: %s", self.url, exc)
            self._publish_status(UNREACHABLE)
            self._stop.wait(self.retry_seconds)

    def _publish_status(self, status: object) -> None:
        self.last_status = status
        self.board.publish(status)
