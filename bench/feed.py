"""feed: the patron feed loader, a first load and a reload with 1% of the records changed.

A CSV feed of N student records (two identifiers, an email, a phone, an address
and a statistic each) is loaded into an empty central store through
``library_kiosk.central.store.jobs.feed.load_feed`` (the real job: parsing, validation, bulk selects,
batched writes, Change rows, the JobRun report), then a second file with 1% of the
records changed is loaded. Floor: the raw driver (sqlite3 ``executemany`` or
psycopg2 ``execute_values``) inserting the same rows (users, segments, changes)
into the same schema, in the same batches, with the ids chosen client-side.

A real load ends with a second phase, "Preparing kiosk documents" (the sync read
model of the records changed, ``library_kiosk.central.store.documents.refresh_patrons``). ``load_s`` and
``reload_s`` (and ``load_vs_floor``) are the load phase only, the job's run without
that phase, as before it existed; ``documents_s`` / ``documents_us_per_patron`` (and
``reload_documents_s``) time the documents phase on its own.

    python -m bench feed --patrons 100000 [--db sqlite:///var/bench-feed.db | postgresql://127.0.0.1:5432/test]

For PostgreSQL the URL names a server database used only to create (and drop) two
fresh databases; for SQLite the path's directory gets two fresh files.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import sys
import tempfile
import time
import uuid

from bench.common import log

HEADER = ["primary_id", "first_name", "last_name", "user_group", "expiry_date", "purge_date", "barcode", "univ_id",
          "email", "phone", "address_line1", "city", "postal_code", "country", "statistic_category"]
FIRST = ["Zoë", "José", "Åsa", "Siobhán", "Łukasz", "Chloé", "Ngozi", "Mei", "Yusuf", "Olivia", "Priya", "Tomás"]
LAST = ["Ólafsdóttir", "García", "Müller", "O'Brien", "Nowak", "Dubois", "Smith", "Yılmaz", "Tanaka", "Okafor"]
TODAY = dt.date(2026, 11, 25)


def rows(n: int, seed: int = 1):
    rng = random.Random(seed)
    for i in range(n):
        yield [f"S{i:08d}", rng.choice(FIRST), rng.choice(LAST), rng.choice(["21", "22", "23"]), "2027-09-30", "",
               f"21{i:012d}", f"U{i:09d}", f"s{i}@student.example.ac.uk", f"+44 7700 {i % 1000000:06d}",
               f"{rng.randrange(1, 200)} Gower Street", "London", "WC1E 6BT", "GB", rng.choice(["UG", "PG", "PGR"])]


def write_csv(path: str, data) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(data)


def databases(url: str | None, workdir: str):
    """Two fresh database URLs (the loader's, the floor's) and a clean-up."""
    if not url or url.startswith("sqlite"):
        return _sqlite_databases(url[len("sqlite:///"):] if url else os.path.join(workdir, "bench-feed.db"))
    return _postgres_databases(url)


def _sqlite_databases(base: str):
    """Two files next to ``base`` (left over ones removed first, with their WAL files)."""
    names = [f"{base}.load.db", f"{base}.floor.db"]
    _remove_sqlite_files(names)
    return [f"sqlite:///{n}" for n in names], lambda: _remove_sqlite_files(names)


def _remove_sqlite_files(names: list[str]) -> None:
    for name in names:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(name + suffix):
                os.remove(name + suffix)


def _postgres_databases(url: str):
    """Two databases created through the server database ``url`` names, dropped by the clean-up."""
    import psycopg2

    admin = psycopg2.connect(url)
    admin.autocommit = True
    names = [f"bench_feed_{uuid.uuid4().hex[:8]}_{part}" for part in ("load", "floor")]
    with admin.cursor() as cursor:
        for name in names:
            cursor.execute(f'CREATE DATABASE "{name}"')
    base = url.rsplit("/", 1)[0]

    def cleanup():
        from library_kiosk.central.store.db import database

        if database.obj is not None and not database.obj.is_closed():
            database.obj.close()
        with admin.cursor() as cursor:
            for name in names:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                               "AND pid <> pg_backend_pid()", (name,))
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()
    return [f"{base}/{n}" for n in names], cleanup


def prepare(url: str) -> None:
    from library_kiosk.central.store import schema
    from tests.store import factories

    db = schema.init(url)
    db.connect(reuse_if_open=True)
    for code in ("21", "22", "23"):
        factories.group(code)


def floor(url: str, data: list[list[str]], batch: int) -> float:
    """Seconds for the raw driver to insert the rows the loader writes, in the same batches."""
    from library_kiosk.central.store import bulk
    from library_kiosk.central.store.db import database, is_postgres
    from library_kiosk.central.store.models import Address, Change, Email, Identifier, Phone, Statistic, User

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    models = [User, Identifier, Email, Phone, Address, Statistic, Change]
    layouts = {}
    for model in models:
        given = {User: ["id", "primary_id", "first_name", "last_name", "user_group", "expiry_date", "account_type",
                        "external_id", "created", "updated"],
                 Identifier: ["user", "id_type", "value", "segment_type"],
                 Email: ["user", "email_address", "preferred", "segment_type"],
                 Phone: ["user", "phone_number", "preferred", "segment_type"],
                 Address: ["user", "line1", "city", "postal_code", "country", "preferred", "segment_type"],
                 Statistic: ["user", "statistic_category", "segment_type"],
                 Change: ["primary_id"]}[model]
        extra = bulk.defaults(model, given)
        layouts[model] = (given + list(extra), tuple(extra.values()))
    tables = {m: [] for m in models}
    for n, r in enumerate(data, start=1):
        tables[User].append((n, r[0], r[1], r[2], r[3], dt.date(2027, 9, 30), "EXTERNAL", "STUDENT", now, now))
        tables[Identifier] += [(n, "BARCODE", r[6], "External"), (n, "UNIV_ID", r[7], "External")]
        tables[Email].append((n, r[8], True, "External"))
        tables[Phone].append((n, r[9], True, "External"))
        tables[Address].append((n, r[10], r[11], r[12], r[13], True, "External"))
        tables[Statistic].append((n, r[14], "External"))
        tables[Change].append((r[0],))
    postgres = is_postgres()
    conn = database.connection()
    sqls, full = {}, {}
    for model in models:
        names, tail = layouts[model]
        cols = ", ".join(f'"{c}"' for c in bulk.columns(model, names))
        marks = "%s" if postgres else "(" + ", ".join("?" * len(names)) + ")"
        sqls[model] = f'INSERT INTO "{model._meta.table_name}" ({cols}) VALUES {marks}'
        full[model] = [row + tail for row in tables[model]]
        if not postgres:
            full[model] = [tuple(bulk.sqlite_value(v) for v in row) for row in full[model]]
    per_user = {m: len(tables[m]) // len(data) for m in models}
    started = time.monotonic()
    cursor = conn.cursor()
    if postgres:
        from psycopg2.extras import execute_values
    for start in range(0, len(data), batch):
        cursor.execute("BEGIN")  # peewee leaves both drivers in autocommit mode: one transaction per batch
        for model in models:
            chunk = full[model][start * per_user[model]:(start + batch) * per_user[model]]
            if postgres:
                execute_values(cursor, sqls[model], chunk, page_size=len(chunk))
            else:
                cursor.executemany(sqls[model], chunk)
        cursor.execute("COMMIT")
    return time.monotonic() - started


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench feed")
    parser.add_argument("--patrons", type=int, default=100_000)
    parser.add_argument("--db", default=None, help="sqlite:///PATH or postgresql://HOST:PORT/DB (default: a temp "
                                                   "SQLite file)")
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args(argv)
    n = args.patrons
    with tempfile.TemporaryDirectory(prefix="bench-feed-") as workdir:
        (load_url, floor_url), cleanup = databases(args.db, workdir)
        try:
            data = list(rows(n))
            first, second = os.path.join(workdir, "feed.csv"), os.path.join(workdir, "feed-1pct.csv")
            write_csv(first, data)
            changed = [list(r) for r in data]
            for r in random.Random(2).sample(changed, max(1, n // 100)):
                r[2] += "-Smith"
                r[8] = "new." + r[8]
            write_csv(second, changed)
            log(f"feed files of {n:,} records written")

            from library_kiosk.central.store.db import database
            from library_kiosk.central.store.jobs.feed import load_feed

            prepare(load_url)
            tick = max(args.batch, n // 10)
            phase = {}  # the documents phase's first and last progress call

            def progress(done, total, name=""):
                if name:
                    phase.setdefault("start", time.monotonic())
                    phase["end"] = time.monotonic()
                if done % tick == 0 or done == total:
                    log(f"  {name + ': ' if name else ''}{done:,}/{total:,}")

            def run(path, expected):
                phase.clear()
                started = time.monotonic()
                report = load_feed(path, fmt="csv", source="STUDENT", operator="bench", today=TODAY,
                                   batch_size=args.batch, progress=progress)
                total_s = time.monotonic() - started
                assert report.ok and report.counts["documents_prepared"] == expected, report.summary()
                documents_s = phase["end"] - phase["start"]
                return report, total_s - documents_s, documents_s  # the load phase, the documents phase

            report, load_s, documents_s = run(first, n)
            assert report.counts["created"] == n, report.summary()
            log(f"load: {load_s:.1f} s, kiosk documents: {documents_s:.1f} s ({report.counts})")
            report, reload_s, reload_documents_s = run(second, max(1, n // 100))
            assert report.counts["updated"] == max(1, n // 100), report.summary()
            log(f"reload: {reload_s:.1f} s, kiosk documents: {reload_documents_s:.2f} s ({report.counts})")
            database.obj.close()

            prepare(floor_url)
            floor_s = floor(floor_url, data, args.batch)
            log(f"floor: {floor_s:.1f} s")
            database.obj.close()
        finally:
            cleanup()
    backend = "postgresql" if args.db and args.db.startswith("postgres") else "sqlite"
    return {"bench": "feed", "backend": backend, "patrons": n, "load_s": round(load_s, 2),
            "reload_s": round(reload_s, 2), "floor_s": round(floor_s, 2), "load_per_s": round(n / load_s),
            "reload_per_s": round(n / reload_s), "floor_per_s": round(n / floor_s),
            "load_vs_floor": round(floor_s / load_s, 3), "documents_s": round(documents_s, 2),
            "documents_us_per_patron": round(documents_s / n * 1e6, 1),
            "reload_documents_s": round(reload_documents_s, 3)}


if __name__ == "__main__":
    import json

    print(json.dumps(main(sys.argv[1:])))
