"""Bulk inserts through the driver's ``executemany``, for loads of many rows.

peewee builds one SQL string per row for ``insert_many``, which dominates a load
of a million rows; this sends one prepared statement with many parameter rows,
on SQLite and PostgreSQL alike. Values pass through each field's ``db_value`` so
they are stored exactly as peewee would store them; missing keys take the
field's default.
"""
from __future__ import annotations

from store.db import database


def insert_rows(model, rows: list[dict], batch: int = 5000) -> int:
    """Insert ``rows`` (dicts keyed by field name) into ``model``'s table; return the count."""
    if not rows:
        return 0
    fields = model._meta.fields
    given = set(name for row in rows for name in row)
    primary_key = model._meta.primary_key
    names = [name for name, field in fields.items()
             if name in given or (field is not primary_key and (field.default is not None or not field.null))]
    columns = [fields[name] for name in names]
    defaults = [_default(field) for field in columns]
    db = database.obj
    placeholders = ", ".join([db.param] * len(columns))
    column_list = ", ".join(f'"{field.column_name}"' for field in columns)
    sql = f'INSERT INTO "{model._meta.table_name}" ({column_list}) VALUES ({placeholders})'
    cursor = db.cursor()
    for start in range(0, len(rows), batch):
        params = [
            tuple(field.db_value(row.get(name, default)) for name, field, default in zip(names, columns, defaults))
            for row in rows[start:start + batch]
        ]
        cursor.executemany(sql, params)
    return len(rows)




def _default(field):
    default = field.default
    if callable(default):
        return default()
    return default
