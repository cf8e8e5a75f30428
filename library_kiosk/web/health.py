"""``GET /health``: answered by a worker thread and nothing else, so an answer within a second means the app
can still serve requests (the systemd watchdog probe in kiosk/serving.py, and ``kiosk doctor``). It also says
how many reader event streams this process holds open (web/streams.py)."""
from __future__ import annotations

from typing import Literal, TypedDict

from flask import Blueprint, current_app

bp = Blueprint("health", __name__)


class Health(TypedDict):
    status: Literal["ok"]
    event_streams: int


@bp.get("/health")
def health() -> Health:
    streams = current_app.extensions.get("reader_streams")
    return {"status": "ok", "event_streams": streams[0].count() if streams else 0}
