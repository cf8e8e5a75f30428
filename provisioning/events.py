"""Reader events for the station over server-sent events.

The page subscribes to ``/events``; the station subscribes to the reader service
(``[readers] service_url``) and forwards each card tap (``card``: the UID as the library
presents it) and barcode scan (``barcode``). ``station.js`` puts the value into the field
waiting for it (``data-reader="card"`` or ``"barcode"``). Only logged-in staff get the stream.
"""
from __future__ import annotations

from flask import Blueprint, current_app

bp = Blueprint("events", __name__)


def render_item(item) -> str | None:
    """One item of the reader hub (web/streams.py) as the station page's SSE text."""
    from hardware.events import BARCODE, CARD, ReaderEvent
    from library_kiosk.web.streams import REACHABLE, UNREACHABLE, sse

    if item is UNREACHABLE:
        return sse("readers", "reader service not reachable")
    if item is REACHABLE:
        return sse("readers", "online")
    if isinstance(item, ReaderEvent):
        return sse(item.kind, item.formatted or item.value) if item.kind in (CARD, BARCODE) else None
    offline = [r.name for r in item.readers if not r.online]
    return sse("readers", "offline: " + ", ".join(offline) if offline else "online")


@bp.get("/events")
def events():
    """Desk reader taps for pages that use the reader (bounded, with keepalives: web/streams.py)."""
    from library_kiosk.web.reader_events import respond

    return respond(current_app._get_current_object(), "provisioning", render_item)
