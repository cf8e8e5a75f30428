"""``GET /health``: answered by a worker thread and nothing else, so an answer within a second means the app
can still serve requests (the systemd watchdog probe in kiosk/serving.py, and ``kiosk doctor``). It also says
how many reader event streams this process holds open (web/streams.py), and, in an app that opens its database
through a gate (the station: ``app.extensions["database_gate"]``, library_kiosk/central/store/reachable.py),
whether that database is away (``"database": "unreachable"``; nothing while it is open). An app waiting for its
database is still alive: it answers 200, so the watchdog does not restart it (a restart cannot bring a database
back), and ``kiosk doctor`` reads the field to say what is wrong."""
from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

from flask import Blueprint, current_app

bp = Blueprint("health", __name__)


class Health(TypedDict):
    status: Literal["ok"]
    event_streams: int
    database: NotRequired[Literal["unreachable"]]
    database_problem: NotRequired[str]  # the driver's words for why, while unreachable


@bp.get("/health")
def health() -> Health:
    streams = current_app.extensions.get("reader_streams")
    answer: Health = {"status": "ok", "event_streams": streams[0].count() if streams else 0}
    gate = current_app.extensions.get("database_gate")
    # (ready() never waits: while the database is away it starts a retry in the background)
    if gate is not None and not gate.ready():
        answer["database"], answer["database_problem"] = "unreachable", gate.problem
    return answer
