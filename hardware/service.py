"""The reader service: runs the configured readers and publishes their events.

Run it as its own process (``kiosk reader service`` or ``python -m hardware.service
--config kiosk.toml``). It logs to stdout, stops cleanly on SIGTERM, and talks to systemd
(READY=1, WATCHDOG=1, STOPPING=1) when ``NOTIFY_SOCKET`` is set.

HTTP contract with the kiosk (bound to 127.0.0.1, port from ``service_url``). With ``[readers]
secret_file`` set (the product's default), ``/events`` and ``/simulate`` answer only a request carrying
``Authorization: Bearer <the file's secret>``, 401 otherwise (hardware/auth.py); ``/status`` stays open.
The log never shows a card number or a barcode, only its keyed fingerprint (``#1a2b3c4d``).

``GET /events``
    ``text/event-stream``. On connect, and whenever a reader goes on- or offline:
    ``event: status`` / ``data: {"readers":[{"name":..,"online":..,"technology":..}]}``.
    Each reader event: ``event: reader`` / ``data: <ReaderEvent JSON>``.
    A ``: keepalive`` comment line every 15 s.
``GET /status``
    The status JSON.
``POST /simulate``
    ``{"kind": "card", "value": "04A1B2C3D4E5F6"}`` or ``{"kind": "barcode", "value": ...}``
    injects through the simulator reader and answers 202 (404 if none is configured,
    400 if the request is wrong). Optional keys: ``"format"`` (the card number's
    presentation, default ``"hex"``) and ``"hold": true`` (present the card without
    taking it away; send ``{"kind": "removed", ...}`` later). Without ``hold`` a card is
    presented and removed again. Item tags: ``{"kind": "item", "value": UID, "item_id": ...}`` (optional
    ``parts``, ``part``, ``owner``, ``secured``, ``error``, ``security_fails``) puts one on the simulated
    pad, ``{"kind": "item_removed", "value": UID}`` takes it away; each answers the ``item_tags`` event.
``POST /items/security``
    ``{"uid": UID, "secured": false}`` at checkout (true on return): the item pad holding that tag writes
    its AFI and/or EAS bit (``[readers] item_security``) and reads it back. 200 ``{"tag": ItemTag}``;
    409 ``{"error": ..., "code": "security_not_set"}`` when the write did not take; 404 ``{"error": ...,
    "code": "tag_not_on_pad"}`` when no pad has the tag; 400 for a wrong request. Needs the secret too.

Item pads publish ``event: reader`` with ``{"kind": "item_tags", "items": [ItemTag...], ...}`` (see
:class:`hardware.events.ItemTag`) whenever a tag arrives or leaves, listing every tag on the pad.
"""
from __future__ import annotations

import argparse
import json
import logging
import queue
import signal
import sys
import threading
import time
import tomllib
from collections.abc import Iterable
from dataclasses import asdict, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hardware import auth, sdnotify
from hardware.base import Reader, SecurityNotSet, TagLost, open_reader
from hardware.config import ReaderSettings
from hardware.debounce import Debouncer
from hardware.events import (
    BARCODE,
    CARD,
    ITEM_TAGS,
    READER_BACK,
    READER_LOST,
    REMOVED,
    ItemTag,
    ReaderEvent,
    ReaderStatus,
    StatusEvent,
)
from hardware.simulator import SimulatorReader
from hardware.uid import UidError, canonical_uid, parse_uid
from library_kiosk.settings.secret_files import made_once

log = logging.getLogger("hardware.service")
KEEPALIVE_SECONDS = 15.0


class ReaderHub:
    """Debounces events, keeps each reader's online state and fans out to subscribers."""

    def __init__(self, settings: ReaderSettings, readers: Iterable[Reader]):
        self.uid_format = settings.uid()
        self.fingerprint = auth.Fingerprints(settings.log_key_file)  # the log's stand-in for a card or code
        self.debouncer = Debouncer(settings.debounce_seconds)
        self._lock = threading.Lock()
        self._subscribers: set[queue.Queue[tuple[str, str]]] = set()
        self._status = {r.name: ReaderStatus(r.name, False, r.technology) for r in readers}

    def publish(self, event: ReaderEvent) -> None:
        """Handle one event from a reader thread."""
        with self._lock:
            if not self.debouncer.accept(event):
                log.info("ignored repeated %s %s at %s", event.kind, self._shown(event), event.reader)
                return
            if event.kind in (CARD, REMOVED):
                event = replace(event, formatted=self.uid_format.format(event.value))
            log.info("%s at %s: %s", event.kind, event.reader, self._shown(event))
            messages = [("reader", event.to_json())]
            if event.kind in (READER_LOST, READER_BACK):
                online = event.kind == READER_BACK
                old = self._status.get(event.reader)
                if old is None or old.online != online:
                    technology = old.technology if old else event.technology
                    self._status[event.reader] = ReaderStatus(event.reader, online, technology)
                    messages.append(("status", self._status_event().to_json()))
            for subscriber in self._subscribers:
                for message in messages:
                    subscriber.put(message)

    def _shown(self, event: ReaderEvent) -> str:
        """What the log says of an event's value: a card's or a barcode's keyed fingerprint, never itself."""
        if event.kind == ITEM_TAGS:
            return f"{len(event.items)} item tag(s)"
        return self.fingerprint(event.value) if event.kind in (CARD, REMOVED, BARCODE) else event.value

    def status(self) -> StatusEvent:
        with self._lock:
            return self._status_event()

    def subscribe(self) -> queue.Queue[tuple[str, str]]:
        """A queue of ``(sse_event_name, json)`` starting with the current status."""
        subscriber: queue.Queue[tuple[str, str]] = queue.Queue[tuple[str, str]]()
        with self._lock:
            subscriber.put(("status", self._status_event().to_json()))
            self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: queue.Queue[tuple[str, str]]) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    def _status_event(self) -> StatusEvent:
        return StatusEvent(tuple(self._status.values()))


class ReaderService:
    """The configured readers (one thread each) plus the HTTP server."""

    def __init__(self, settings: ReaderSettings, readers: list[Reader] | None = None,
                 keepalive_seconds: float = KEEPALIVE_SECONDS):
        self.settings = settings
        self.readers = readers if readers is not None else [
            open_reader(spec) for spec in settings.device_specs()]
        names = [r.name for r in self.readers]
        if len(set(names)) != len(names):
            raise ValueError(f"reader names must be unique, got {names}")
        self.hub = ReaderHub(settings, self.readers)
        self.secret = made_once(settings.secret_file) if settings.secret_file else ""
        self.keepalive_seconds = keepalive_seconds
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.http = ThreadingHTTPServer(settings.address, _make_handler(self))
        self.http.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self.http.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def simulator(self) -> SimulatorReader | None:
        return next((r for r in self.readers if isinstance(r, SimulatorReader)), None)

    def start(self) -> None:
        for reader in self.readers:
            thread = threading.Thread(target=self._run_reader, args=(reader,),
                                      name=f"reader {reader.name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        thread = threading.Thread(target=self.http.serve_forever, name="http", daemon=True)
        thread.start()
        self._threads.append(thread)
        log.info("reader service listening on %s with readers: %s", self.url,
                 ", ".join(r.name for r in self.readers))

    def stop(self) -> None:
        self.stopping.set()
        if self._threads:                               # serve_forever is running
            self.http.shutdown()
        self.http.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
            if thread.is_alive():
                log.warning("thread %s did not stop in time", thread.name)

    def simulate(self, request: dict[str, Any]) -> ReaderEvent:
        """Inject the event a ``POST /simulate`` body describes; raises ValueError."""
        simulator = self.simulator
        if simulator is None:
            raise LookupError("no simulator reader is configured")
        kind, value = str(request.get("kind") or ""), str(request.get("value", ""))
        if kind == "item":
            return simulator.place_item(
                value, str(request.get("item_id", "")), int(request.get("parts", 1)), int(request.get("part", 1)),
                str(request.get("owner", "")), bool(request.get("secured", True)), str(request.get("error", "")),
                bool(request.get("security_fails", False)))
        if kind == "item_removed":
            return simulator.remove_item(value)
        if kind in (CARD, REMOVED):
            value = parse_uid(value, request.get("format", "hex"), self.settings.uid_byte_length)
        event = simulator.inject(kind, value, request.get("technology"))
        if kind == CARD and not request.get("hold"):
            simulator.inject(REMOVED, value, request.get("technology"))
        return event

    def set_item_security(self, uid: str, secured: bool) -> ItemTag:
        """Mark an item's tag for the gate through the pad that holds it (raises TagLost, SecurityNotSet)."""
        uid = canonical_uid(uid)                        # item tags' UIDs: hex as read (8 bytes for ISO 15693)
        for reader in self.readers:
            tags = getattr(reader, "tags", None)
            if tags is not None and any(tag.uid == uid for tag in tags()):
                tag: ItemTag = reader.set_security(uid, secured)  # type: ignore[attr-defined]
                return tag
        raise TagLost(f"no item pad holds tag {uid}")

    def _run_reader(self, reader: Reader) -> None:
        while not self.stopping.is_set():
            try:
                for event in reader.events(self.stopping):
                    self.hub.publish(event)
            except Exception:                           # a back-end bug: log, restart
                log.exception("reader %s crashed; restarting in 5 s", reader.name)
                self.stopping.wait(5)


class _ReaderHandler(BaseHTTPRequestHandler):
    """The HTTP contract of the module's docstring, for the ``service`` a subclass sets (``_make_handler``)."""

    server_version = "kiosk-readers/1"
    service: ReaderService

    def do_GET(self) -> None:
        if self.path == "/events":
            if self._authorized():
                self._stream_events()
        elif self.path == "/status":
            self._send_json(200, json.loads(self.service.hub.status().to_json()))
        else:
            self._send_json(404, {"error": f"no such resource {self.path}"})

    def do_POST(self) -> None:
        if self.path not in ("/simulate", "/items/security"):
            self._send_json(404, {"error": f"no such resource {self.path}"})
            return
        if not self._authorized():
            return
        if self.path == "/items/security":
            self._item_security()
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            request = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(request, dict):
                raise ValueError("the body must be a JSON object")
            event = self.service.simulate(request)
        except LookupError as exc:
            self._send_json(404, {"error": str(exc)})
        except (ValueError, UidError) as exc:
            self._send_json(400, {"error": str(exc)})
        else:
            self._send_json(202, {"accepted": json.loads(event.to_json())})

    def _item_security(self) -> None:
        try:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if not isinstance(request, dict) or not isinstance(request.get("secured"), bool) \
                    or not isinstance(request.get("uid"), str):
                raise ValueError('the body must be {"uid": "<tag UID hex>", "secured": true or false}')
            tag = self.service.set_item_security(request["uid"], request["secured"])
        except (ValueError, UidError) as exc:
            self._send_json(400, {"error": str(exc)})
        except TagLost as exc:
            self._send_json(404, {"error": str(exc), "code": "tag_not_on_pad"})
        except SecurityNotSet as exc:
            log.warning("item security not set: %s", exc)
            self._send_json(409, {"error": str(exc), "code": SecurityNotSet.code})
        else:
            self._send_json(200, {"tag": asdict(tag)})

    def _authorized(self) -> bool:
        """Whether the request carries the shared secret; answers 401 if not."""
        if auth.authorized(self.headers.get("Authorization"), self.service.secret):
            return True
        log.warning("refused %s %s without the reader service's secret", self.command, self.path)
        self._send_json(401, {"error": "the reader service's secret is missing or wrong"})
        return False

    def _stream_events(self) -> None:
        service = self.service
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        subscriber = service.hub.subscribe()
        last_write = time.monotonic()
        try:
            while not service.stopping.is_set():
                try:
                    name, data = subscriber.get(timeout=0.5)
                    self.wfile.write(f"event: {name}\ndata: {data}\n\n".encode())
                    last_write = time.monotonic()
                except queue.Empty:
                    if time.monotonic() - last_write >= service.keepalive_seconds:
                        self.wfile.write(b": keepalive\n\n")
                        last_write = time.monotonic()
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            service.hub.unsubscribe(subscriber)
            self.close_connection = True

    def _send_json(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http %s %s", self.address_string(), format % args)


def _make_handler(service: ReaderService) -> type[BaseHTTPRequestHandler]:
    """The handler class for ``service``'s HTTP server (the server makes one handler per request)."""
    return type("Handler", (_ReaderHandler,), {"service": service})


def run_service(settings: ReaderSettings, port: int | None = None) -> int:
    """Run in the foreground until SIGTERM or Ctrl-C; the exit status."""
    if port is not None:
        settings = replace(settings, service_url=f"http://{settings.address[0]}:{port}")
    service = ReaderService(settings)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    service.start()
    sdnotify.notify("READY=1")
    interval = sdnotify.watchdog_interval() or 10.0
    while not stop.wait(interval):
        sdnotify.notify("WATCHDOG=1")
    log.info("stopping")
    sdnotify.notify("STOPPING=1")
    service.stop()
    log.info("stopped")
    return 0


def load_settings_file(path: str) -> ReaderSettings:
    """ReaderSettings from a TOML file's ``[readers]`` table (or the whole file)."""
    with open(path, "rb") as file:
        data = tomllib.load(file)
    return ReaderSettings.from_mapping(data.get("readers", data), str(data.get("data_dir", "var")))


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(stream=sys.stdout, level=level, force=True,
                        format="%(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hardware.service", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="TOML file with a [readers] table")
    parser.add_argument("--port", type=int, help="override the port of service_url (0: any)")
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    setup_logging(logging.DEBUG if args.debug else logging.INFO)
    settings = load_settings_file(args.config) if args.config else ReaderSettings()
    return run_service(settings, args.port)


if __name__ == "__main__":
    sys.exit(main())
