"""Reader taps pushed to the page over server-sent events.

The reader service owns the USB readers (its own process). For each browser
connection the kiosk subscribes to the service's event stream and forwards:
- a card or barcode as a ``tap`` event whose HTML makes the page post a tap token to
  ``/identify`` (the tap becomes an ordinary request, so the session starts as for a
  typed barcode). The token is opaque and one-time (``TapTokens``): random, it says
  nothing of the card; the identifier stays here, in the memory of the serving process
  (the kiosk runs one worker process, web/serving.py); it works once, within
  ``TAP_TOKEN_MAX_AGE`` seconds, on the kiosk's clock;
- the item pad's tags (every tag on it now) as an ``items`` event whose HTML makes the page post a one-time
  token for them to ``/items/pad`` (the borrow tray and the return screen take them: kiosk/circulation.py);
- reader status as a ``readers`` event (a "reader offline" notice, or nothing).
If the service is not reachable the page is told the reader is offline, and the
kiosk tries again every few seconds. One subscription to the service serves every
open page; streams are bounded and end when their browser leaves (web/streams.py).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
import threading

from flask import Blueprint, current_app, render_template

from library_kiosk.domain import clock

bp = Blueprint("events", __name__)

TAP_TOKEN_MAX_AGE = 30  # seconds a tap token works (once)
TAP_TOKENS_KEPT = 256  # the most tokens waiting at once; the oldest goes first (a page that never posts its own)


class TapTokens:
    """Token -> identifier, each for one use within ``max_age`` seconds."""

    def __init__(self, max_age: float = TAP_TOKEN_MAX_AGE, kept: int = TAP_TOKENS_KEPT):
        self.max_age, self.kept = dt.timedelta(seconds=max_age), kept
        self._waiting: dict[str, tuple[str, str, dt.datetime]] = {}  # in the order issued
        self._lock = threading.Lock()

    def issue(self, identifier: str, kind: str = "") -> str:
        token = secrets.token_urlsafe(24)
        now = clock.now()
        with self._lock:
            for old in [t for t, (_, _kind, until) in self._waiting.items() if until <= now]:
                del self._waiting[old]
            while len(self._waiting) >= self.kept:
                del self._waiting[next(iter(self._waiting))]
            self._waiting[token] = (identifier, kind, now + self.max_age)
        return token

    def redeem(self, token: str) -> str | None:
        """The identifier of ``token``, once; None for an unknown, used or expired token."""
        found = self.redeem_with_kind(token)
        return None if found is None else found[0]

    def redeem_with_kind(self, token: str) -> tuple[str, str] | None:
        """(identifier, the reader event's kind: card or barcode) of ``token``, once; None as ``redeem``."""
        with self._lock:
            found = self._waiting.pop(token, None)
        if found is None or found[2] <= clock.now():
            return None
        return found[0], found[1]


_tokens_lock = threading.Lock()


def _tokens(app, name: str = "tap_tokens") -> TapTokens:
    with _tokens_lock:
        tokens: TapTokens | None = app.extensions.get(name)
        if tokens is None:
            tokens = app.extensions[name] = TapTokens()
        return tokens


def tap_token(app, identifier: str, kind: str = "") -> str:
    """A new one-time token standing for ``identifier`` (what the page receives instead of it)."""
    return _tokens(app).issue(identifier, kind)


def read_tap_token(app, token: str) -> str | None:
    """The identifier behind ``token``, consumed: a second use, or one after 30 s, gives None."""
    return _tokens(app).redeem(token)


def read_tap(app, token: str) -> tuple[str, str] | None:
    """(identifier, kind: "card" or "barcode") behind ``token``, consumed as ``read_tap_token`` consumes it."""
    return _tokens(app).redeem_with_kind(token)


def item_token(app, tags: str) -> str:
    """A one-time token standing for the item pad's tags now (their JSON list): the page posts it to
    ``/items/pad`` (kiosk/circulation.py), so which items lie on the pad stays here, as a card's identifier does."""
    return _tokens(app, "item_tokens").issue(tags, "item_tags")


def read_item_token(app, token: str) -> str | None:
    return _tokens(app, "item_tokens").redeem(token)


def render_item(app, item) -> str | None:
    """One item of the reader hub (web/streams.py) as the page's SSE text."""
    from hardware.events import BARCODE, CARD, ITEM_TAGS, ReaderEvent
    from library_kiosk.web.streams import REACHABLE, UNREACHABLE, sse

    def render(template, **context):
        with app.app_context():
            return render_template(template, **context)

    if item is UNREACHABLE or item is REACHABLE:
        return sse("readers", render("_readers.html", offline=[], unreachable=item is UNREACHABLE))
    if isinstance(item, ReaderEvent):
        if item.kind == ITEM_TAGS:  # the item pad's tags now: the borrow tray or the return screen takes them
            tags = json.dumps([dataclasses.asdict(tag) for tag in item.items])
            return sse("items", render("_items_tap.html", token=item_token(app, tags)))
        if item.kind not in (CARD, BARCODE):
            return None
        return sse("tap", render("_tap.html", token=tap_token(app, item.formatted or item.value, item.kind)))
    offline = [reader.name for reader in item.readers if not reader.online]
    return sse("readers", render("_readers.html", offline=offline, unreachable=False))


@bp.get("/events")
def events():
    """Reader taps and status for the page (bounded, with keepalives: web/streams.py)."""
    from library_kiosk.web.reader_events import respond

    app = current_app._get_current_object()
    return respond(app, "kiosk", lambda item: render_item(app, item))
