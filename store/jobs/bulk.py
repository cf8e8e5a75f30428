"""Batch writes through the connection's own driver, for jobs that touch many rows.

Peewee builds SQL per row; for hundreds of thousands of rows the loader instead
prepares one statement per table and hands the driver whole batches
(``executemany`` on SQLite, ``execute_values`` on PostgreSQL). Defaults come from
the models so the rows match what ``Model.create`` would write.
"""
from __future__ import annotations

import datetime as dt

import peewee as pw

from store.db import database, is_postgres


def _sqlite_value(value):
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _for_sqlite(model, names, rows: list[tuple]) -> list:
    """Dates and datetimes as peewee stores them in SQLite (ISO text); only the columns that hold them."""
    at = [i for i, name in enumerate(names)
          if isinstance(model._meta.fields[name], (pw.DateField, pw.DateTimeField))]
    if not at:
        return rows
    converted = []
    memo = {}  # the same dates and timestamps repeat across a batch
    for row in rows:
        row = list(row)
        for i in at:
            value = row[i]
            if value is not None:
                text = memo.get(value)
                if text is None:
                    text = memo[value] = _sqlite_value(value)
                row[i] = text
        converted.append(row)
    return converted


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
    """Insert ``rows`` (tuples in the order of ``names``); other fields get their defaults."""
    if not rows:
        return []
    extra = defaults(model, names)
    names = list(names) + list(extra)
    tail = tuple(extra.values())
    table = model._meta.table_name
    cols = ", ".join(f'"{c}"' for c in columns(model, names))
    ret = ", ".join(f'"{c}"' for c in columns(model, returning))
    cursor = database.cursor()
    if is_postgres():
        from psycopg2.extras import execute_values

        sql = f'INSERT INTO "{table}" ({cols}) VALUES %s' + (f" RETURNING {ret}" if returning else "")
        result = execute_values(cursor, sql, [row + tail for row in rows], page_size=len(rows),
                                fetch=bool(returning))
        return result or []
    converted = _for_sqlite(model, names, [row + tail for row in rows])
    one = "(" + ", ".join("?" * len(names)) + ")"
    if not returning:
        cursor.executemany(f'INSERT INTO "{table}" ({cols}) VALUES {one}', converted)
        return []
    found = []
    per = max(1, 30000 // len(names))  # SQLite allows 32766 bound values per statement
    for start in range(0, len(converted), per):
        chunk = converted[start:start + per]
        params = [v for row in chunk for v in row]
        cursor.execute(f'INSERT INTO "{table}" ({cols}) VALUES {", ".join([one] * len(chunk))} RETURNING {ret}',
                       params)
        found.extend(cursor.fetchall())
    return found


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
    cursor.executemany(f'UPDATE "{table}" SET {sets} WHERE "id" = ?', _for_sqlite(model, [*names, "id"], rows))


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
