"""lookup: identifier in, account HTML out, through the real kiosk app over HTTP.

A central store with N demo patrons is synced into a kiosk cache; the kiosk runs
as its own process (``kiosk serve``, gunicorn); random barcodes are posted to
``/identify`` as the page does. Floor: the median of a bare indexed sqlite3
lookup of the same identifiers on the same cache file.
"""
from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import time

import requests

from bench.common import build_central, free_port, log, peak_rss_mb, start, stop, summary_ms

KEY = "bench-identifier-key"


def keys_env(work: str) -> dict:
    """The kiosk's keys (kiosk/device_keys.py) for a cache filled by ``fill_cache``, as a served kiosk finds them:
    a keys file and the environment that names it."""
    from kiosk import device_keys

    path = os.path.join(work, "run", "device-keys.json")
    device_keys.save(path, device_keys.DeviceKeys(KEY.encode(), KEY.encode(), 6))
    return {"KIOSK_KIOSK_KEYS_FILE": path}


def fill_cache(central_url: str, cache_url: str) -> float:
    """Sync the whole central store into the kiosk cache (in-process, same code as the pull)."""
    from kiosk.cache import PatronCache, cache_db, open_cache
    from library_kiosk.central.store import sync
    from library_kiosk.central.store.db import bind
    from library_kiosk.domain.identifier_keys import IdentifierKeyer

    central = bind(central_url)
    open_cache(cache_url)
    cache = PatronCache(KEY.encode())
    keyer = IdentifierKeyer(KEY.encode())  # as the central store keys a kiosk's identifiers
    started = time.monotonic()
    with central.connection_context(), cache_db.connection_context():
        if cache.count():
            return 0.0
        while True:
            page = sync.changes_after(keyer, cache.cursor(), 5000)
            cache.apply_page(page)
            if not page["more"]:
                break
    return time.monotonic() - started


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench lookup")
    parser.add_argument("--patrons", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--dir", default=None, help="work folder (default var/bench/lookup-N); reused between runs")
    args = parser.parse_args(argv)
    work = os.path.abspath(args.dir or f"var/bench/lookup-{args.patrons}")
    os.makedirs(work, exist_ok=True)
    central_url, cache_url = f"sqlite:///{work}/central.db", f"sqlite:///{work}/kiosk-cache.db"

    started = time.monotonic()
    build_central(central_url, args.patrons)
    sync_s = fill_cache(central_url, cache_url)
    log(f"cache filled in {sync_s:.1f} s")

    from library_kiosk.central.store.demo import barcode_for

    rng = random.Random(42)
    barcodes = [barcode_for(rng.randint(1, args.patrons)) for _ in range(args.lookups)]
    port = free_port()
    env = {"KIOSK_DATA_DIR": work, "KIOSK_KIOSK_PORT": str(port), "KIOSK_KIOSK_CACHE_URL": cache_url,
           **keys_env(work), "KIOSK_KIOSK_SECRET_KEY": "bench"}
    base = f"http://127.0.0.1:{port}"
    kiosk = start([sys.executable, "-m", "library_kiosk", "serve"], env, base + "/")
    try:
        session = requests.Session()
        for barcode in barcodes[:50]:  # warm up
            session.post(base + "/identify", data={"identifier": barcode}, headers={"HX-Request": "true"})
        samples = []
        for barcode in barcodes:
            t0 = time.perf_counter()
            response = session.post(base + "/identify", data={"identifier": barcode}, headers={"HX-Request": "true"})
            samples.append(time.perf_counter() - t0)
            if response.status_code != 200 or not ("patron-name" in response.text or "pin-form" in response.text):
                raise RuntimeError(f"lookup of {barcode} failed: {response.status_code}")
        rss = peak_rss_mb(kiosk.pid)
    finally:
        stop(kiosk)

    from kiosk.cache import PatronCache

    cache = PatronCache(KEY.encode())
    keys = [cache.identifier_key(b) for b in barcodes]
    connection = sqlite3.connect(cache_url[len("sqlite:///"):])
    floor = []
    for key in keys:
        t0 = time.perf_counter()
        connection.execute(
            "SELECT p.document FROM cached_identifier i JOIN cached_patron p ON p.primary_id = i.primary_id "
            "WHERE i.key = ?", (key,)).fetchone()
        floor.append(time.perf_counter() - t0)
    connection.close()
    figures = {"benchmark": "lookup", "patrons": args.patrons, "lookups": args.lookups, **summary_ms(samples),
               "floor_p50_ms": round(statistics.median(floor) * 1000, 4), "rss_mb": rss,
               "cache_fill_s": round(sync_s, 1), "total_s": round(time.monotonic() - started, 1)}
    return figures
