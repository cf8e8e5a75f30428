"""Work a route does beside its answer: steps due at most once a while per process, and work run once the answer
has gone (the kiosk never waits for it)."""
from __future__ import annotations

import logging
from collections.abc import Callable

from flask import current_app

from library_kiosk.central.store.db import database
from library_kiosk.domain import clock

log = logging.getLogger(__name__)


def due(name: str, seconds: float = 60.0) -> bool:
    """Whether this process's step ``name`` is due (not done within ``seconds`` on the product's clock); if so, it
    counts as done from now."""
    done = current_app.extensions.setdefault("background_steps", {})
    now = clock.now()
    last = done.get(name)
    if last is not None and (now - last).total_seconds() < seconds:
        return False
    done[name] = now
    return True


def after_answer(response, work: Callable[[], None], what: str) -> None:
    """Run ``work()``, with a database connection of its own, once ``response`` has been sent; a failure is
    logged as ``what`` and changes nothing the answer said."""
    def run() -> None:
        try:
            with database.connection_context():
                work()
        except Exception:
            log.exception("%s failed", what)

    response.call_on_close(run)
