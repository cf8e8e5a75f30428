"""Creating, emptying and seeding the central store's tables."""
from __future__ import annotations

from store.db import bind, database
from store.models import ALL_MODELS, create_tables


def init(url: str):
    db = bind(url)
    with db.connection_context():
        create_tables(db)
    return db


def drop_all() -> None:
    database.drop_tables(ALL_MODELS, safe=True, cascade=True) if database.obj.__class__.__name__.startswith(
        "Postgres") else database.drop_tables(ALL_MODELS, safe=True)
