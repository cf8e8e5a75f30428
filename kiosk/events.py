"""Reader taps pushed to the page over server-sent events.

The reader service owns the USB readers (its own process). For each browser
connection the kiosk subscribes to the service's event stream and forwards:
- a card or barcode as a ``tap`` event whose HTML makes the page post a signed,
  short-lived tap token to ``/identify`` (the tap becomes an ordinary request,
  so the session cookie is set as for a typed barcode);
- reader status as a ``readers`` event (a "reader offline" notice, or nothing).
If the service is not reachable the page is told the reader is offline, and the
kiosk tries again every few seconds. One subscription to the service serves every
open page; streams are bounded and end when their browser leaves (web/streams.py).
"""
from __future__ import annotations

from flask import Blueprint, current_app, render_template
from itsdangerous import BadSignature, URLSafeTimedSerializer

bp = Blueprint("events", __name__)

TAP_TOKEN_MAX_AGE = 30


def _serializer(app) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(app.secret_key, salt="reader-tap")


def tap_token(app, identifier: str) -> str:
    return _serializer(app).dumps(identifier)


def read_tap_token(app, token: str) -> str | None:
    try:
        return _serializer(app).loads(token, max_age=TAP_TOKEN_MAX_AGE)
    except BadSignature:
        return None


def render_item(app, item) -> str | None:
    """One item of the reader hub (web/streams.py) as the page's SSE text."""
    from hardware.events import BARCODE, CARD, ReaderEvent
    from library_kiosk.web.streams import REACHABLE, UNREACHABLE, sse

    def render(template, **context):
        with app.app_context():
            return render_template(template, **context)

    if item is UNREACHABLE or item is REACHABLE:
        return sse("readers", render("_readers.html", offline=[], unreachable=item is UNREACHABLE))
    if isinstance(item, ReaderEvent):
        if item.kind not in (CARD, BARCODE):
            return None
        return sse("tap", render("_tap.html", token=tap_token(app, item.formatted or item.value)))
    offline = [reader.name for reader in item.readers if not reader.online]
    return sse("readers", render("_readers.html", offline=offline, unreachable=False))


@bp.get("/events")
def events():
    """Reader taps and status for the page (bounded, with keepalives: web/streams.py)."""
    from library_kiosk.web.reader_events import respond

    app = current_app._get_current_object()
    return respond(app, "kiosk", lambda item: render_item(app, item))
