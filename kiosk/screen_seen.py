"""The page on the kiosk's screen says it is alive, and the browser's supervisor asks when it last did.

kiosk.js posts ``/screen/seen`` every ``PING_SECONDS`` from whatever kiosk screen is showing; only a page of this
app whose script runs can. ``GET /screen/seen`` answers ``{"silent_seconds": S, "seen": bool}``: the seconds since
the last post, or since this app started when none has come yet (``seen`` false). The browser unit's supervisor
(library_kiosk/appliance/screen.py, ``supervise``) reads it and restarts Chromium when the page has been silent too
long: a page Chromium could not load (its own error page, shown when the web app was away), a crashed or hung
renderer. It cannot see a compositor that stopped presenting frames while the page runs (docs/operations.md).

The time is this process's memory: the kiosk runs one gunicorn worker (web/serving.py); a restarted web app counts
its silence from its start, so the page gets the whole limit to come back."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from flask import Blueprint, current_app

bp = Blueprint("screen_seen", __name__)

PING_SECONDS = 20  # kiosk.js's interval (kiosk/static/kiosk.js); the supervisor's limit is several of these


class ScreenSeen:
    """When the page last said it was alive, on ``clock`` (monotonic seconds)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.started = clock()
        self.last: float | None = None
        self.lock = threading.Lock()

    def seen(self) -> None:
        with self.lock:
            self.last = self.clock()

    def silence(self) -> dict:
        with self.lock:
            since = self.started if self.last is None else self.last
            return {"silent_seconds": round(max(0.0, self.clock() - since), 1), "seen": self.last is not None}


def init_app(app, clock: Callable[[], float] = time.monotonic) -> None:
    app.extensions["screen_seen"] = ScreenSeen(clock)
    app.register_blueprint(bp)


@bp.post("/screen/seen")
def seen():
    current_app.extensions["screen_seen"].seen()
    return "", 204


@bp.get("/screen/seen")
def silence():
    return current_app.extensions["screen_seen"].silence()
