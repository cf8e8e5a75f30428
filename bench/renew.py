"""renew: "Renew all" for patrons with 20 loans, through the real kiosk and central store over HTTP.

A central store with N demo patrons gets ``--samples`` extra patrons with 20 renewable
loans each (bulk inserts); the kiosk cache is filled from it; the central store
(``kiosk central serve``) and the kiosk (``kiosk serve``) run as their own processes,
configured through KIOSK_* variables, the kiosk enrolled as a device. Each sample is
one patron: identify (no PIN group), then the timed ``POST /renew`` (all loans), as
the page does. Floor: the same number of bare sqlite3 ``UPDATE``s of a loan's due
date in one transaction (committed) on a copy of the loan table in the central
database file, same run.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sqlite3
import statistics
import sys
import time

import requests

from bench.common import build_central, free_port, log, start, stop, summary_ms
from bench.lookup import fill_cache, keys_env
from library_kiosk.central.store import schema

LOANS = 20
PREFIX = "RENEWBENCH"


def add_renewers(central_url: str, count: int) -> list[str]:
    """``count`` patrons with 20 loans each in a no-PIN group; their barcodes (reused between runs)."""
    from library_kiosk.central.store import changes
    from library_kiosk.central.store.bulk import insert_rows
    from library_kiosk.central.store.db import bind
    from library_kiosk.central.store.models import Identifier, Loan, User, UserGroup

    db = bind(central_url)
    barcodes = [f"8{n:013d}" for n in range(1, count + 1)]
    with db.connection_context(), db.atomic():
        UserGroup.insert(code="RB", description="Renew bench", pin_required=False, loan_period_days=21,
                         max_renewals=1000, fine_limit=1000, overdue_limit=100).on_conflict_ignore().execute()
        have = User.select().where(User.primary_id.startswith(PREFIX)).count()
        if have >= count:
            return barcodes
        today = dt.date.today()
        users = [{"primary_id": f"{PREFIX}{n}", "first_name": "Renée", "last_name": f"Bench{n}",
                  "user_group": "RB", "expiry_date": today + dt.timedelta(days=3650)}
                 for n in range(have + 1, count + 1)]
        insert_rows(User, users)
        ids = dict(User.select(User.primary_id, User.id).where(User.primary_id.startswith(PREFIX)).tuples())
        insert_rows(Identifier, [{"user": ids[f"{PREFIX}{n}"], "id_type": "BARCODE", "value": barcodes[n - 1]}
                                 for n in range(have + 1, count + 1)])
        insert_rows(Loan, [{"user": ids[f"{PREFIX}{n}"], "user_group": "RB", "item_barcode": f"7{n:07d}{k:04d}",
                            "title": f"Bench title {k}", "author": "Author", "call_number": "QA76",
                            "loan_date": today - dt.timedelta(days=10), "due_date": today + dt.timedelta(days=3),
                            "renewals": 0, "status": "ON_LOAN"}
                           for n in range(have + 1, count + 1) for k in range(LOANS)])
        for n in range(have + 1, count + 1):
            changes.record(f"{PREFIX}{n}")
    return barcodes


def demo_patrons(central_url: str) -> int:
    """Demo patrons already in the store (the bench's own 20-loan patrons not counted)."""
    from library_kiosk.central.store.db import bind
    from library_kiosk.central.store.models import User

    db = bind(central_url)
    with db.connection_context():
        if not db.table_exists("user"):
            return 0
        return User.select().where(~User.primary_id.startswith(PREFIX)).count()


def enrol(central_url: str, work: str) -> str:
    """Enrol a new device for this run (a fresh kiosk cache starts its operation numbers again)."""
    from kiosk.devices import save_credential
    from library_kiosk.central.store import devices
    from library_kiosk.central.store.db import bind

    name = f"bench-kiosk-{int(time.time())}"
    db = bind(central_url)
    with db.connection_context():
        _name, token = devices.enrol(devices.add(name))
    save_credential(os.path.join(work, "device.json"), {"device": name, "token": token})
    return name


def fresh_cache(work: str) -> None:
    """Remove the kiosk cache a previous run left (a fresh cache starts its operation numbers again)."""
    for name in ("kiosk-cache.db", "kiosk-cache.db-wal", "kiosk-cache.db-shm"):
        if os.path.exists(os.path.join(work, name)):
            os.remove(os.path.join(work, name))


@contextlib.contextmanager
def central_and_kiosk(work: str, central_url: str, cache_url: str, device: str):
    """A central store and a kiosk enrolled as ``device``, each a real process on a free port; yields the kiosk's
    base URL and stops both afterwards."""
    central_port, kiosk_port = free_port(), free_port()
    common = {"KIOSK_DATA_DIR": work, "KIOSK_CENTRAL_DATABASE_URL": central_url}
    central = start([sys.executable, "-m", "library_kiosk", "central", "serve"],
                    {**common, "KIOSK_CENTRAL_PORT": str(central_port)}, f"http://127.0.0.1:{central_port}/health")
    try:
        kiosk_env = {**common, "KIOSK_KIOSK_PORT": str(kiosk_port), "KIOSK_KIOSK_CACHE_URL": cache_url,
                     **keys_env(work), "KIOSK_KIOSK_SECRET_KEY": "bench",
                     "KIOSK_KIOSK_CENTRAL_URL": f"http://127.0.0.1:{central_port}",
                     "KIOSK_KIOSK_CENTRAL_TIMEOUT_SECONDS": "10", "KIOSK_KIOSK_DEVICE_NAME": device}
        base = f"http://127.0.0.1:{kiosk_port}"
        kiosk = start([sys.executable, "-m", "library_kiosk", "serve"], kiosk_env, base + "/")
        try:
            yield base
        finally:
            stop(kiosk)
    finally:
        stop(central)


def floor_samples(central_path: str, samples: int) -> list[float]:
    connection = sqlite3.connect(central_path)
    connection.execute("DROP TABLE IF EXISTS bench_loan_copy")
    connection.execute("CREATE TABLE bench_loan_copy AS SELECT id, due_date, renewals FROM loan LIMIT 100000")
    connection.execute("CREATE UNIQUE INDEX bench_loan_copy_id ON bench_loan_copy (id)")
    connection.commit()
    ids = [row[0] for row in connection.execute("SELECT id FROM bench_loan_copy LIMIT ?", (samples * LOANS,))]
    out = []
    for s in range(samples):
        chunk = ids[s * LOANS:(s + 1) * LOANS]
        t0 = time.perf_counter()
        with connection:
            for loan_id in chunk:
                connection.execute("UPDATE bench_loan_copy SET due_date = ?, renewals = renewals + 1 WHERE id = ?",
                                   ("2030-01-01", loan_id))
        out.append(time.perf_counter() - t0)
    connection.execute("DROP TABLE bench_loan_copy")
    connection.close()
    return out


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench renew")
    parser.add_argument("--patrons", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=200, help="patrons with 20 loans, one renew-all each")
    parser.add_argument("--dir", default=None, help="work folder (default var/bench/renew-N)")
    args = parser.parse_args(argv)
    work = os.path.abspath(args.dir or f"var/bench/renew-{args.patrons}")
    os.makedirs(work, exist_ok=True)
    central_path = f"{work}/central.db"
    central_url, cache_url = f"sqlite:///{central_path}", f"sqlite:///{work}/kiosk-cache.db"
    started = time.monotonic()
    schema.init(central_url)  # a data set kept from an older version gets the tables added since
    if demo_patrons(central_url) != args.patrons:
        build_central(central_url, args.patrons)
    barcodes = add_renewers(central_url, args.samples)
    # every run renews the same patrons: put their loans back first
    db = sqlite3.connect(central_path)
    with db:
        db.execute("UPDATE loan SET renewals = 0, due_date = date('now', '+3 days') WHERE user_group = 'RB'")
    db.close()
    fresh_cache(work)
    fill_s = fill_cache(central_url, cache_url)
    log(f"cache filled in {fill_s:.1f} s")
    device = enrol(central_url, work)
    with central_and_kiosk(work, central_url, cache_url, device) as base:
        samples, renewed = [], 0
        for index, barcode in enumerate(barcodes):
            session = requests.Session()
            answer = session.post(base + "/identify", data={"identifier": barcode}, headers={"HX-Request": "true"})
            if "patron-name" not in answer.text:
                raise RuntimeError(f"identify {barcode} failed: {answer.status_code}")
            t0 = time.perf_counter()
            answer = session.post(base + "/renew", headers={"HX-Request": "true"})
            elapsed = time.perf_counter() - t0
            if answer.status_code != 200 or answer.text.count("data-outcome=") != LOANS:
                raise RuntimeError(f"renew for {barcode} failed: {answer.status_code} {answer.text[:300]}")
            renewed += answer.text.count('class="badge ok"')
            if index >= 5:  # the first few warm up both processes
                samples.append(elapsed)
    floor = floor_samples(central_path, len(samples))
    return {"benchmark": "renew", "patrons": args.patrons, "samples": len(samples), "loans_per_patron": LOANS,
            **summary_ms(samples), "floor_p50_ms": round(statistics.median(floor) * 1000, 4),
            "renewed": renewed, "total_s": round(time.monotonic() - started, 1)}
