"""Reader taps pushed to the page over server-sent events.

The reader service owns the USB readers (its own process). For each browser
connection the kiosk subscribes to the service's event stream and forwards:
- a card or barcode as a ``tap`` event whose HTML makes the page post a signed,
  short-lived tap token to ``/identify`` (the tap becomes an ordinary request,
  so the session cookie is set as for a typed barcode);
- reader status as a ``readers`` event (a "reader offline" notice, or nothing).
If the service is not reachable the page is told the reader is offline, and the
kiosk tries again every few seconds.
"""
from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, render_template
from itsdangerous import BadSignature, URLSafeTimedSerializer

bp = Blueprint("events", __name__)

TAP_TOKEN_MAX_AGE = 30
RETRY_SECONDS = 3


def _serializer(app) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(app.secret_key, salt="reader-tap")


def tap_token(app, identifier: str) -> str:
    return _serializer(app).dumps(identifier)


def read_tap_token(app, token: str) -> str | None:
    try:
        return _serializer(app).loads(token, max_age=TAP_TOKEN_MAX_AGE)
    except BadSignature:
        return None


def _sse(event: str, html: str) -> str:
    lines = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"event: {event}\n{lines}\n"


def stream(app, subscribe):
    """Yield SSE text for one browser connection, reconnecting to the reader service."""
    from hardware.events import BARCODE, CARD, ReaderEvent

    def render(template, **context):
        with app.app_context():
            return render_template(template, **context)

    while True:
        try:
            for event in subscribe():
                if isinstance(event, ReaderEvent):
                    if event.kind in (CARD, BARCODE):
                        identifier = event.formatted or event.value
                        yield _sse("tap", render("_tap.html", token=tap_token(app, identifier)))
                else:
                    offline = [reader.name for reader in event.readers if not reader.online]
                    yield _sse("readers", render("_readers.html", offline=offline, unreachable=False))
        except (OSError, TimeoutError, RuntimeError) as exc:
            app.logger.info("reader service not reachable: %s", exc)
        yield _sse("readers", render("_readers.html", offline=[], unreachable=True))
        time.sleep(RETRY_SECONDS)


@bp.get("/events")
def events():
    from hardware.client import subscribe

    app = current_app._get_current_object()
    url = app.config["KIOSK"]["readers"]["service_url"]
    body = stream(app, lambda: subscribe(url, timeout=60))
    return Response(body, mimetype="text/event-stream", headers={"X-Accel-Buffering": "no"})
