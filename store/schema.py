"""Creating, emptying and seeding the central store's tables."""
from __future__ import annotations

from store.db import bind
from store.models import create_tables
from store import usage as _usage  # noqa: E402,F401  (KioskUsage, kiosk usage statistics: created at start)


def init(url: str):
    db = bind(url)
    with db.connection_context():
        create_tables(db)
    if hasattr(db, "close_all"):
        # A pooled connection must not outlive this call: gunicorn forks its workers after the
        # app is built, and two processes on one PostgreSQL connection corrupt each other's results.
        db.close_all()
    return db

