"""While an app's database is away (library_kiosk/central/store/reachable.py ``DatabaseGate``), every request but
those that need no database gets the app's own refusal: the station's 503 page, the central store's 503
``database_unavailable``. Registered before every step that reads the database."""
from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Protocol

from flask import Flask, request


class Gate(Protocol):
    def ready(self) -> bool: ...


def refuse_while_away(app: Flask, gate: Gate, served: Collection[str], refusal: Callable[[], Any]) -> None:
    """Until ``gate`` is ready, answer ``refusal()``; the endpoints in ``served`` (health, static files) are
    answered here, before the per-request connection would be opened."""

    @app.before_request
    def _database_away() -> Any:
        if gate.ready():
            return None
        endpoint = request.endpoint
        if endpoint is not None and endpoint in served:
            return app.view_functions[endpoint](**(request.view_args or {}))
        return refusal()
