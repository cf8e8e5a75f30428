"""One database URL for SQLite and PostgreSQL.

``sqlite:///var/central.db`` or ``postgresql://user@127.0.0.1:5432/name``.
Models bind to ``database`` (a proxy) so the same code runs on either.
"""
from __future__ import annotations

import os
from urllib.parse import urlparse

import peewee
from playhouse.db_url import connect

database = peewee.DatabaseProxy()

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


def bind(url: str) -> peewee.Database:
    """Point the models at ``url`` and return the database (reused if already bound there)."""
    current = database.obj
    if current is not None and getattr(current, "kiosk_url", None) == url:
        return current
    db = make_database(url)
    db.kiosk_url = url
    database.initialize(db)
    return db


def is_postgres(db: peewee.Database | None = None) -> bool:
    db = db or database.obj
    return isinstance(db, peewee.PostgresqlDatabase)


def write_transaction():
    """A transaction that reads, then writes: on SQLite it takes the write lock at BEGIN (IMMEDIATE), so it waits
    for another writer (busy timeout) instead of failing with "database is locked" when it upgrades from a read
    made before that writer committed. PostgreSQL: an ordinary transaction."""
    return database.atomic() if is_postgres() else database.atomic("IMMEDIATE")


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
