"""checkout: items borrowed and returned at the kiosk, each until its outcome is on screen, through the real kiosk
and central store over HTTP (issue 18; target ``p95_ms`` at most 150 per item).

A central store with N demo patrons gets ``--items`` bench items and ``--items / PER_VISIT`` bench patrons in a
no-PIN group (bulk inserts, reused between runs; their loans are taken back before each run); the kiosk cache is
filled from it; the central store (``kiosk central serve``) and the kiosk (``kiosk serve``) run as their own
processes, the kiosk enrolled as a device for this run. Each visit: identify, *Borrow items*, then each item's
barcode sent as the scanner's field sends it (``POST /borrow/item``, htmx), timed until the tray with that item's
row and due date comes back: the outcome on screen (the checkout goes through the kiosk's outbox to the central
store, which decides and lends, and its answer refreshes the kiosk's copy of the patron). Then, nobody identified,
*Return items* and each item scanned (``POST /return/item``), timed until its "Returned" row comes back, five
items a visit too.

Floor, same run: the kiosk's own round trip (``POST /still-here``, which does nothing) on the same connection, so
the figures read as a ratio on a shared, noisy machine; and bare sqlite3 (a loan row inserted and the item's row
updated in one committed transaction, on a copy in the central database file).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sqlite3
import statistics
import time

import requests

from bench.common import build_central, log, summary_ms
from bench.lookup import fill_cache
from bench.renew import central_and_kiosk, enrol, fresh_cache
from library_kiosk.central.store import schema

PREFIX = "CHECKOUTBENCH"
PER_VISIT = 5  # items a patron borrows in one visit
WARM_UP = 5  # the first items of each kind warm both processes up and are not counted
HX = {"HX-Request": "true"}


def add_borrowers(central_url: str, items_count: int) -> tuple[list[str], list[str]]:
    """Bench patrons (no PIN, a high loan limit) and bench items; (patron barcodes, item barcodes). Reused between
    runs; every bench loan still out is taken back first (the items are on the shelf again)."""
    from library_kiosk.central.store import changes, items
    from library_kiosk.central.store.bulk import insert_rows
    from library_kiosk.central.store.db import bind
    from library_kiosk.central.store.models import Identifier, Loan, User, UserGroup

    db = bind(central_url)
    patrons = -(-items_count // PER_VISIT)
    patron_barcodes = [f"6{n:013d}" for n in range(1, patrons + 1)]
    item_barcodes = [f"CB{n:08d}" for n in range(1, items_count + 1)]
    with db.connection_context(), db.atomic():
        UserGroup.insert(code="CB", description="Checkout bench", pin_required=False, loan_limit=10_000,
                         loan_period_days=21, fine_limit=1000, overdue_limit=100).on_conflict_ignore().execute()
        Loan.delete().where(Loan.item_barcode.startswith("CB")).execute()
        have = User.select().where(User.primary_id.startswith(PREFIX)).count()
        expiry = dt.date.today() + dt.timedelta(days=3650)
        if have < patrons:
            insert_rows(User, [{"primary_id": f"{PREFIX}{n}", "first_name": "Bertha", "last_name": f"Borrower{n}",
                                "user_group": "CB", "expiry_date": expiry} for n in range(have + 1, patrons + 1)])
            ids = dict(User.select(User.primary_id, User.id).where(User.primary_id.startswith(PREFIX)).tuples())
            insert_rows(Identifier, [{"user": ids[f"{PREFIX}{n}"], "id_type": "BARCODE",
                                      "value": patron_barcodes[n - 1]} for n in range(have + 1, patrons + 1)])
        present = set(items.Item.select(items.Item.barcode).where(items.Item.barcode.startswith("CB")).tuples())
        insert_rows(items.Item, [{"barcode": code, "title": f"Bench book {code}", "library": "",
                                  "material_type": "BOOK"} for code in item_barcodes if (code,) not in present])
        for n in range(1, patrons + 1):
            changes.record(f"{PREFIX}{n}")
    return patron_barcodes, item_barcodes


def demo_patrons(central_url: str) -> int:
    """Demo patrons already in the store (the bench's own borrowers not counted)."""
    from library_kiosk.central.store.db import bind
    from library_kiosk.central.store.models import User

    db = bind(central_url)
    with db.connection_context():
        if not db.table_exists("user"):
            return 0
        return User.select().where(~User.primary_id.startswith(PREFIX)).count()


def floor_sqlite(central_path: str, samples: int) -> list[float]:
    """A loan inserted and an item row updated, one committed transaction each, on copies in the same file."""
    connection = sqlite3.connect(central_path)
    connection.execute("DROP TABLE IF EXISTS bench_checkout_loan")
    connection.execute("DROP TABLE IF EXISTS bench_checkout_item")
    connection.execute("CREATE TABLE bench_checkout_loan (id INTEGER PRIMARY KEY, item TEXT, due TEXT)")
    connection.execute("CREATE TABLE bench_checkout_item AS SELECT id, barcode, updated FROM item")
    connection.execute("CREATE UNIQUE INDEX bench_checkout_item_barcode ON bench_checkout_item (barcode)")
    connection.commit()
    out = []
    for n in range(samples):
        code = f"CB{n % samples + 1:08d}"
        t0 = time.perf_counter()
        with connection:
            connection.execute("INSERT INTO bench_checkout_loan (item, due) VALUES (?, ?)", (code, "2030-01-01"))
            connection.execute("UPDATE bench_checkout_item SET updated = ? WHERE barcode = ?", ("2030-01-01", code))
        out.append(time.perf_counter() - t0)
    connection.execute("DROP TABLE bench_checkout_loan")
    connection.execute("DROP TABLE bench_checkout_item")
    connection.close()
    return out


def _timed(session: requests.Session, url: str, data: dict | None = None) -> tuple[float, requests.Response]:
    t0 = time.perf_counter()
    answer = session.post(url, data=data, headers=HX)
    return time.perf_counter() - t0, answer


def borrow_all(base: str, patrons: list[str], codes: list[str]) -> tuple[list[float], list[float]]:
    """Each patron borrows PER_VISIT items; (per-item times, the kiosk's own round trips)."""
    samples, floor = [], []
    for index, barcode in enumerate(patrons):
        session = requests.Session()
        answer = session.post(base + "/identify", data={"identifier": barcode}, headers=HX)
        if "patron-name" not in answer.text:
            raise RuntimeError(f"identify {barcode} failed: {answer.status_code}")
        answer = session.post(base + "/borrow", headers=HX)
        if 'data-testid="borrow"' not in answer.text:
            raise RuntimeError(f"no borrow tray for {barcode}: {answer.status_code} {answer.text[:300]}")
        for code in codes[index * PER_VISIT:(index + 1) * PER_VISIT]:
            elapsed, answer = _timed(session, base + "/borrow/item", {"barcode": code})
            row = answer.text.partition(f'data-barcode="{code}"')[2][:600]
            if answer.status_code != 200 or "Due back on" not in row:
                raise RuntimeError(f"borrowing {code} failed: {answer.status_code} {row[:300] or answer.text[:300]}")
            samples.append(elapsed)
            floor.append(_timed(session, base + "/still-here")[0])
        session.post(base + "/done", headers=HX)
    return samples[WARM_UP:], floor[WARM_UP:]


def return_all(base: str, codes: list[str]) -> list[float]:
    """The same items given back, PER_VISIT at a time on the return screen (Done between): per-item times."""
    samples = []
    for start_at in range(0, len(codes), PER_VISIT):
        session = requests.Session()
        answer = session.post(base + "/return", headers=HX)
        if 'data-testid="return"' not in answer.text:
            raise RuntimeError(f"no return screen: {answer.status_code} {answer.text[:300]}")
        for code in codes[start_at:start_at + PER_VISIT]:
            elapsed, answer = _timed(session, base + "/return/item", {"barcode": code})
            row = answer.text.partition(f'data-barcode="{code}"')[2][:600]
            if answer.status_code != 200 or "badge ok" not in row:
                raise RuntimeError(f"returning {code} failed: {answer.status_code} {row[:300] or answer.text[:300]}")
            samples.append(elapsed)
        session.post(base + "/done", headers=HX)
    return samples[WARM_UP:]


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench checkout")
    parser.add_argument("--patrons", type=int, default=5000, help="demo patrons in the central store")
    parser.add_argument("--items", type=int, default=200, help="items borrowed, then returned, one at a time")
    parser.add_argument("--dir", default=None, help="work folder (default var/bench/checkout-N)")
    args = parser.parse_args(argv)
    if args.items <= WARM_UP:
        parser.error(f"--items must be more than {WARM_UP}")
    work = os.path.abspath(args.dir or f"var/bench/checkout-{args.patrons}")
    os.makedirs(work, exist_ok=True)
    central_path = f"{work}/central.db"
    central_url, cache_url = f"sqlite:///{central_path}", f"sqlite:///{work}/kiosk-cache.db"
    started = time.monotonic()
    schema.init(central_url)
    if demo_patrons(central_url) != args.patrons:
        build_central(central_url, args.patrons)
    patrons, codes = add_borrowers(central_url, args.items)
    fresh_cache(work)
    log(f"cache filled in {fill_cache(central_url, cache_url):.1f} s")
    device = enrol(central_url, work)
    with central_and_kiosk(work, central_url, cache_url, device) as base:
        borrowed, round_trips = borrow_all(base, patrons, codes)
        log(f"{len(borrowed)} items borrowed (timed)")
        returned = return_all(base, codes)
        log(f"{len(returned)} items returned (timed)")
    floor = floor_sqlite(central_path, len(borrowed))
    borrow_ms, return_ms = summary_ms(borrowed), summary_ms(returned)
    floor_http = statistics.median(round_trips) * 1000
    return {"benchmark": "checkout", "patrons": args.patrons, "items": len(borrowed),
            "p50_ms": borrow_ms["p50_ms"], "p95_ms": borrow_ms["p95_ms"], "p99_ms": borrow_ms["p99_ms"],
            "return_p50_ms": return_ms["p50_ms"], "return_p95_ms": return_ms["p95_ms"],
            "floor_http_p50_ms": round(floor_http, 3),
            "floor_sqlite_p50_ms": round(statistics.median(floor) * 1000, 4),
            "ratio_p50_to_http_floor": round(borrow_ms["p50_ms"] / floor_http, 1),
            "ratio_p95_to_http_floor": round(borrow_ms["p95_ms"] / floor_http, 1),
            "return_ratio_p95_to_http_floor": round(return_ms["p95_ms"] / floor_http, 1),
            "target_p95_ms": 150, "met": borrow_ms["p95_ms"] <= 150 and return_ms["p95_ms"] <= 150,
            "total_s": round(time.monotonic() - started, 1)}
