"""Reader events for the station over server-sent events.

The page subscribes to ``/events``; the station subscribes to the reader service
(``[readers] service_url``) and forwards each card tap (``card``: the UID as the library
presents it) and barcode scan (``barcode``). ``station.js`` puts the value into the field
waiting for it (``data-reader="card"`` or ``"barcode"``). Only logged-in staff get the stream.
"""
from __future__ import annotations

import time

from flask import Blueprint, Response, current_app

bp = Blueprint("events", __name__)
RETRY_SECONDS = 3


def _sse(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


def stream(url: str, subscribe, log):
    from hardware.events import BARCODE, CARD, ReaderEvent

    while True:
        try:
            yield _sse("readers", "online")
            for event in subscribe(url):
                if isinstance(event, ReaderEvent) and event.kind in (CARD, BARCODE):
                    yield _sse(event.kind, event.formatted or event.value)
                elif not isinstance(event, ReaderEvent):
                    offline = [r.name for r in event.readers if not r.online]
                    yield _sse("readers", "offline: " + ", ".join(offline) if offline else "online")
        except (OSError, TimeoutError, RuntimeError) as exc:
            log.info("reader service not reachable: %s", exc)
        yield _sse("readers", "reader service not reachable")
        time.sleep(RETRY_SECONDS)


@bp.get("/events")
def events():
    from hardware.client import subscribe

    url = current_app.config["KIOSK"]["readers"]["service_url"]
    body = stream(url, lambda u: subscribe(u, timeout=60), current_app.logger)
    return Response(body, mimetype="text/event-stream", headers={"X-Accel-Buffering": "no"})
