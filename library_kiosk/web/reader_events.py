"""``/events`` for a Flask app with a reader: the bounded streams of web/streams.py as a Flask response.

The kiosk and the staff station each call ``respond`` from their ``/events`` route with how to render
an item (a reader event, a reader status, ``UNREACHABLE``/``REACHABLE``) as SSE text. The settings of
the app's table (``[kiosk]`` or ``[provisioning]``) set the bounds; ``[readers] service_url`` the service,
``[readers] secret_file`` the shared secret the app sends it (read at each connection: hardware/auth.py).
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from flask import Flask, Response, request

from library_kiosk.web.streams import ReaderHub, StreamBoard, StreamsFull, body

_lock = threading.Lock()


def streams(app: Flask, table: str) -> tuple[StreamBoard, ReaderHub]:
    """The app's stream board and reader hub, made on first use (in the serving process)."""
    with _lock:
        found: tuple[StreamBoard, ReaderHub] | None = app.extensions.get("reader_streams")
        if found is None:
            from hardware.auth import client_secret
            from hardware.client import subscribe

            config = app.config["KIOSK"]
            options, readers = config[table], config["readers"]
            board = StreamBoard(int(options["event_streams"]), int(options["event_streams_per_client"]))
            secret_file = str(readers.get("secret_file", ""))
            hub = ReaderHub(readers["service_url"], board,
                            lambda url: subscribe(url, timeout=60, secret=client_secret(secret_file)))
            found = app.extensions["reader_streams"] = (board, hub)
        return found


def respond(app: Flask, table: str, render: Callable[[object], str | None]) -> Response:
    """Open a stream for this request's client: the hub's last status first, then every item as it comes;
    ``503`` with ``Retry-After`` (and an SSE ``retry:``) when every stream slot is taken."""
    board, hub = streams(app, table)
    hub.ensure_started()
    try:
        stream = board.open(request.remote_addr or "unknown")
    except StreamsFull as full:
        return Response(f"retry: {full.retry_seconds * 1000}\n\n", status=503, mimetype="text/event-stream",
                        headers={"Retry-After": str(full.retry_seconds), "Cache-Control": "no-store"})
    first = [text for text in [render(hub.last_status)] if text] if hub.last_status is not None else []
    keepalive = float(app.config["KIOSK"][table]["event_keepalive_seconds"])
    return Response(body(board, stream, render, first, keepalive), mimetype="text/event-stream",
                    headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"})
