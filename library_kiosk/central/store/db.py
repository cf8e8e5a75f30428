"""The central store's database: its models bind to ``database`` (a proxy), so the same code runs on
SQLite and PostgreSQL (URLs as in library_kiosk/database.py)."""
from __future__ import annotations

import peewee

from library_kiosk.database import make_database

database = peewee.DatabaseProxy()


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
