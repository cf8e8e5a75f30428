"""peewee plumbing every box uses: one database URL for SQLite and PostgreSQL, SQLite's pragmas, and a
connection per Flask request. The central store's models (library_kiosk/central/store/db.py) and the kiosk's
own cache (kiosk/cache.py) both open their databases here; neither imports the other.

``sqlite:///var/central.db`` or ``postgresql://user@127.0.0.1:5432/name``.
"""
from __future__ import annotations

import os
from urllib.parse import urlparse

import peewee
from playhouse.db_url import connect

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    "busy_timeout": 5000,
    "cache_size": -16000,
}


def make_database(url: str) -> peewee.Database:
    """A peewee database for ``url``; SQLite files get WAL and foreign keys."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = url[len("sqlite:///"):]
        if path and path != ":memory:":
            directory = os.path.dirname(os.path.abspath(path))
            os.makedirs(directory, exist_ok=True)
        return peewee.SqliteDatabase(path or ":memory:", pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    if parsed.scheme in ("postgres", "postgresql"):
        # A pool per process: a request takes a connection and gives it back, instead of
        # paying PostgreSQL's connection set-up (milliseconds) on every request.
        pooled = url.replace("postgres://", "postgresql://", 1).replace("postgresql://", "postgresql+pool://", 1)
        return connect(pooled, max_connections=32, stale_timeout=300)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://HOST/NAME")


def connect_per_request(app, db) -> None:
    """Open ``db`` for each request of the Flask ``app`` and give it back at the end (peewee's
    recommended pattern; with a pool, giving back returns the connection to the pool)."""

    @app.before_request
    def _connect():
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(_exc):
        if not db.is_closed():
            db.close()
