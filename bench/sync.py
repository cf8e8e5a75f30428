"""sync: a kiosk's first sync over HTTP into its cache, then a delta of 1,000 changes.

A central store with N demo patrons runs as its own process (``kiosk central serve``);
a kiosk cache is filled by the real pull (``kiosk.sync.pull``, pages over HTTP with the
device token). ``rows_per_s`` is patrons per second end to end. Floor (same run): raw
``sqlite3`` ``executemany`` of the same rows (the documents and identifier hashes the
pull wrote) into the same schema in a fresh file, with the cache's pragmas. The demo
generator builds the central store's read model as it loads (its "Preparing kiosk
documents" phase, as the patron feed does); before the kiosk comes, whatever is still
stale is refreshed (``read_model_s``, ``read_model_built``: 0 after a fresh load; not
part of ``rows_per_s``); ``--cold`` empties it instead, so the first sync builds
every document as it serves the pages. ``delta_1000_s``: 1,000 changes made
at the central store, then one pull of them.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time

from bench.common import build_central, free_port, log, start, stop


def _enrol(central_url: str, work: str) -> str:
    from kiosk.devices import save_credential
    from library_kiosk.central.store import devices
    from library_kiosk.central.store.db import bind

    db = bind(central_url)
    with db.connection_context():
        _name, token = devices.enrol(devices.add("bench-kiosk", replace=True))
    path = os.path.join(work, "device.json")
    save_credential(path, {"device": "bench-kiosk", "token": token})
    return token


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench sync")
    parser.add_argument("--patrons", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=5000)
    parser.add_argument("--dir", default=None, help="work folder (default var/bench/sync-N); the central is reused")
    parser.add_argument("--cold", action="store_true",
                        help="empty the central store's read model first: the first sync builds every document")
    args = parser.parse_args(argv)
    work = os.path.abspath(args.dir or f"var/bench/sync-{args.patrons}")
    os.makedirs(work, exist_ok=True)
    central_db = f"sqlite:///{work}/central.db"
    build_central(central_db, args.patrons)
    token = _enrol(central_db, work)
    read_model_s, read_model_built = _read_model(central_db, args.cold)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"KIOSK_CENTRAL_DATABASE_URL": central_db, "KIOSK_CENTRAL_PORT": str(port), "KIOSK_DATA_DIR": work}
    central = start([sys.executable, "-m", "library_kiosk", "central", "serve", "--workers", "1"], env, url + "/health")
    try:
        from kiosk import sync
        from kiosk.cache import PatronCache, cache_db, open_cache
        from kiosk.central_client import CentralClient

        cache_path = os.path.join(work, "kiosk-cache.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(cache_path + suffix):
                os.remove(cache_path + suffix)
        open_cache(f"sqlite:///{cache_path}")
        cache = PatronCache(b"bench-identifier-key")
        client = CentralClient(url, 120.0, token=token)
        with cache_db.connection_context():
            t0 = time.perf_counter()
            applied = sync.pull(client, cache, page_size=args.page,
                                progress=lambda n, c: log(f"  {n:,} records") if n % 50_000 < args.page else None)
            first_s = time.perf_counter() - t0
            patrons = cache.count()
            rows = cache_db.execute_sql("SELECT primary_id, document, seq FROM cached_patron").fetchall()
            idents = cache_db.execute_sql("SELECT key, primary_id FROM cached_identifier").fetchall()
        log(f"first sync: {applied:,} records in {first_s:.1f} s")

        floor_s = _floor(work, rows, idents, args.page)

        from library_kiosk.central.store import changes
        from library_kiosk.central.store.db import bind
        from library_kiosk.central.store.models import User

        db = bind(central_db)
        with db.connection_context():
            ids = [p for (p,) in User.select(User.primary_id).order_by(User.id).limit(1000).tuples()]
            with db.atomic():
                User.update(first_name="Delta").where(User.primary_id.in_(ids)).execute()
                changes.record_many(ids)
        with cache_db.connection_context():
            t0 = time.perf_counter()
            delta = sync.pull(client, cache, page_size=args.page)
            delta_s = time.perf_counter() - t0
        log(f"delta: {delta:,} records in {delta_s:.2f} s")
    finally:
        stop(central)
    return {"benchmark": "sync", "patrons": patrons, "first_sync_s": round(first_s, 2), "cold": args.cold,
            "read_model_s": round(read_model_s, 2), "read_model_built": read_model_built,
            "rows_per_s": round(patrons / first_s), "floor_rows_per_s": round(len(rows) / floor_s),
            "ratio": round((patrons / first_s) / (len(rows) / floor_s), 3), "delta_records": delta,
            "delta_1000_s": round(delta_s, 3), "page": args.page}


def _read_model(central_db: str, cold: bool) -> tuple[float, int]:
    """Bring the central store's read model up to date before the kiosk comes (``sync.refresh_documents``: nothing
    to build after the demo generator, which builds it), or empty it (``--cold``); the time it took and how many
    documents it built."""
    from library_kiosk.central.store import documents, sync
    from library_kiosk.central.store.db import bind

    db = bind(central_db)
    with db.connection_context():
        t0 = time.perf_counter()
        if cold:
            documents.PatronDocument.delete().execute()
            built = 0
        else:
            built = sync.refresh_documents()
        elapsed = time.perf_counter() - t0
    log(f"read model: {'emptied' if cold else f'{built:,} documents built'} in {elapsed:.1f} s")
    return elapsed, built


def _floor(work: str, rows, idents, page: int) -> float:
    """Raw sqlite3 executemany of the same rows into the same schema (fresh file, the cache's pragmas,
    page-sized commits)."""
    from library_kiosk.database import SQLITE_PRAGMAS

    path = os.path.join(work, "floor.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    connection = sqlite3.connect(path, isolation_level=None)
    for name, value in {**SQLITE_PRAGMAS, "synchronous": "full"}.items():  # as kiosk.cache.open_cache
        connection.execute(f"PRAGMA {name}={value}")
    connection.execute('CREATE TABLE "cached_patron" ("primary_id" VARCHAR(255) NOT NULL PRIMARY KEY, '
                       '"document" TEXT NOT NULL, "seq" INTEGER NOT NULL)')
    connection.execute('CREATE TABLE "cached_identifier" ("key" VARCHAR(255) NOT NULL PRIMARY KEY, '
                       '"primary_id" VARCHAR(255) NOT NULL)')
    connection.execute('CREATE INDEX "cached_identifier_primary_id" ON "cached_identifier" ("primary_id")')
    of_patron = {}  # every identifier row goes with its own patron's page (the pull's pages, exactly)
    for row in idents:
        of_patron.setdefault(row[1], []).append(row)
    pages = [(rows[at:at + page], [i for r in rows[at:at + page] for i in of_patron.get(r[0], ())])
             for at in range(0, len(rows), page)]
    assert sum(len(p[1]) for p in pages) == len(idents)
    t0 = time.perf_counter()
    for patrons, identifiers in pages:
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO cached_patron VALUES (?, ?, ?)", patrons)
        connection.executemany("INSERT INTO cached_identifier VALUES (?, ?)", identifiers)
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    connection.close()
    return elapsed
