"""Batch writes through the connection's own driver, for loads of many rows.

peewee builds one SQL string per row for ``insert_many``, which dominates a load
of hundreds of thousands of rows; these helpers prepare one statement per table and
hand the driver whole batches (``executemany`` on SQLite, ``execute_values`` on
PostgreSQL). Defaults come from the models so the rows match what ``Model.create``
would write. Dates and datetimes go to SQLite as peewee stores them (ISO text):
the adapters peewee registers with ``sqlite3`` convert them.

- ``insert(model, names, rows, returning=())``: tuples in the order of ``names``
  (the feed loader);
- ``insert_rows(model, rows)``: dicts keyed by field name, values through each
  field's ``db_value`` (demo data, the change sequence);
- ``update_by_id``, ``select_in``, ``chunks``.
"""
from __future__ import annotations

import datetime as dt

from library_kiosk.central.store.db import database, is_postgres

SQLITE_MAX_PARAMS = 30000  # SQLite allows 32766 bound values per statement


def sqlite_value(value):
    """A value as peewee stores it in SQLite (what the registered adapters produce)."""
    kind = type(value)
    if kind is str or kind is int or value is None:  # most values: as they are
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def columns(model, names) -> list[str]:
    return [model._meta.fields[name].column_name for name in names]


def defaults(model, names, skip=()) -> dict:
    """Default values of the model's other non-key fields (callables called once)."""
    found = {}
    for f in model._meta.sorted_fields:
        if f.primary_key or f.name in names or f.name in skip:
            continue
        value = f.default() if callable(f.default) else f.default
        if value is None and not f.null:
            raise ValueError(f"{model.__name__}.{f.name} needs a value")
        found[f.name] = value
    return found


def insert(model, names: list[str], rows: list[tuple], returning: tuple[str, ...] = ()) -> list[tuple]:
    """Insert ``rows`` (tuples in the order of ``names``); other fields get their defaults.

    With ``returning`` (field names), the inserted rows' values of those fields, in no promised order."""
    if not rows:
        return []
    extra = defaults(model, names)
    names = list(names) + list(extra)
    if extra:
        tail = tuple(extra.values())
        rows = [row + tail for row in rows]
    table = model._meta.table_name
    cols = ", ".join(f'"{c}"' for c in columns(model, names))
    ret = ", ".join(f'"{c}"' for c in columns(model, returning))
    cursor = database.cursor()
    if is_postgres():
        from psycopg2.extras import execute_values

        sql = f'INSERT INTO "{table}" ({cols}) VALUES %s' + (f" RETURNING {ret}" if returning else "")
        result = execute_values(cursor, sql, rows, page_size=len(rows), fetch=bool(returning))
        return result or []
    one = "(" + ", ".join("?" * len(names)) + ")"
    if not returning:
        cursor.executemany(f'INSERT INTO "{table}" ({cols}) VALUES {one}', rows)
        return []
    found = []
    per = max(1, SQLITE_MAX_PARAMS // len(names))
    for start in range(0, len(rows), per):
        chunk = rows[start:start + per]
        params = [v for row in chunk for v in row]
        cursor.execute(f'INSERT INTO "{table}" ({cols}) VALUES {", ".join([one] * len(chunk))} RETURNING {ret}',
                       params)
        found.extend(cursor.fetchall())
    return found


def insert_rows(model, rows: list[dict], batch: int = 5000) -> int:
    """Insert ``rows`` (dicts keyed by field name; a missing key takes the field's default); the count."""
    if not rows:
        return 0
    fields = model._meta.fields
    given = {name for row in rows for name in row}
    primary_key = model._meta.primary_key
    names = [name for name, field in fields.items()
             if name in given or (field is not primary_key and (field.default is not None or not field.null))]
    layout = [(name, fields[name], _default(fields[name])) for name in names]
    for start in range(0, len(rows), batch):
        insert(model, names, [tuple(field.db_value(row.get(name, default)) for name, field, default in layout)
                              for row in rows[start:start + batch]])
    return len(rows)


def _default(field):
    return field.default() if callable(field.default) else field.default


def update_by_id(model, names: list[str], rows: list[tuple]) -> None:
    """``UPDATE model SET names... WHERE id = ?`` for each row ``(values..., id)``."""
    if not rows:
        return
    table = model._meta.table_name
    cursor = database.cursor()
    if is_postgres():
        from psycopg2.extras import execute_batch

        sets = ", ".join(f'"{c}" = %s' for c in columns(model, names))
        execute_batch(cursor, f'UPDATE "{table}" SET {sets} WHERE "id" = %s', rows, page_size=500)
        return
    sets = ", ".join(f'"{c}" = ?' for c in columns(model, names))
    cursor.executemany(f'UPDATE "{table}" SET {sets} WHERE "id" = ?', rows)


def select_in(model, names: list[str], column: str, values: list) -> list[tuple]:
    """``SELECT names FROM model WHERE column IN values`` as raw driver tuples (dates may come back as text)."""
    if not values:
        return []
    table = model._meta.table_name
    cols = ", ".join(f'"{c}"' for c in columns(model, names))
    where = columns(model, [column])[0]
    mark = "%s" if is_postgres() else "?"
    cursor = database.cursor()
    found = []
    for part in chunks(values, 5000):
        cursor.execute(f'SELECT {cols} FROM "{table}" WHERE "{where}" IN ({", ".join([mark] * len(part))})', part)
        found.extend(cursor.fetchall())
    return found


def chunks(items, size: int):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]
