"""tap: reader event to account HTML in the browser, over the reader service's SSE.

Processes as in production: the reader service (simulated reader), the kiosk
(gunicorn) and real Chromium showing the kiosk page. Each of 200 taps is a
different card of a patron whose group asks no PIN; the time runs from the
moment the tap is handed to the reader service until htmx has swapped that
patron's account into the page (``htmx:afterSwap``, timed in the page). The
reader stack's own detection time (about 0.4 s for pcscd) is not included.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from bench.common import build_central, free_port, log, start, stop, summary_ms
from bench.lookup import fill_cache, keys_env

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
NO_PIN_GROUPS = ("27", "57", "58", "84")


def _cards(central_url: str, count: int) -> list[tuple[str, str]]:
    """(card serial number, display name) of patrons who can see their account without a PIN."""
    from library_kiosk.central.store.db import bind
    from library_kiosk.central.store.models import Identifier, User

    db = bind(central_url)
    with db.connection_context():
        rows = (Identifier.select(Identifier.value, User.first_name, User.last_name).join(User)
                .where(Identifier.id_type == "CARD_SERIAL_NUMBER", User.user_group.in_(NO_PIN_GROUPS))
                .order_by(User.id).limit(count).tuples())
        return [(value, f"{first} {last}") for value, first, last in rows]


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench tap")
    parser.add_argument("--taps", type=int, default=200)
    parser.add_argument("--patrons", type=int, default=5000)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args(argv)
    work = os.path.abspath(args.dir or f"var/bench/tap-{args.patrons}")
    os.makedirs(work, exist_ok=True)
    central_url, cache_url = f"sqlite:///{work}/central.db", f"sqlite:///{work}/kiosk-cache.db"
    build_central(central_url, args.patrons)
    fill_cache(central_url, cache_url)
    cards = _cards(central_url, args.taps)
    if len(cards) < args.taps:
        raise SystemExit(f"only {len(cards)} patrons without a PIN; use more --patrons")

    from playwright.sync_api import sync_playwright

    from hardware.auth import client_secret
    from hardware.client import simulate
    from library_kiosk.demo import DEMO_READERS

    reader_port, kiosk_port = free_port(), free_port()
    reader_url, kiosk_url = f"http://127.0.0.1:{reader_port}", f"http://127.0.0.1:{kiosk_port}"
    env = {"KIOSK_DATA_DIR": work, "KIOSK_KIOSK_PORT": str(kiosk_port), "KIOSK_KIOSK_CACHE_URL": cache_url,
           **keys_env(work), "KIOSK_KIOSK_SECRET_KEY": "bench",
           "KIOSK_READERS_SERVICE_URL": reader_url, "KIOSK_READERS_DEVICES": json.dumps(DEMO_READERS),
           "KIOSK_READERS_DEBOUNCE_SECONDS": "0.0"}
    secret = client_secret(os.path.join(work, "reader.secret"))  # the reader service's, made once ({data_dir})
    processes = []
    try:
        processes.append(start([sys.executable, "-m", "library_kiosk", "reader", "service"], env,
                               reader_url + "/status"))
        processes.append(start([sys.executable, "-m", "library_kiosk", "serve"], env, kiosk_url + "/"))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(kiosk_url)
            page.evaluate("""() => { window.swaps = [];
                document.body.addEventListener('htmx:afterSwap', (e) => {
                  if (e.detail.target.id === 'screen')
                    window.swaps.push([Date.now(), e.detail.target.innerText]); }); }""")
            page.wait_for_function("() => document.querySelector('#reader-status') !== null")
            time.sleep(1.0)  # let the page's EventSource connect to /events
            samples = []
            for uid, name in cards:
                before = page.evaluate("window.swaps.length")
                sent = time.time()
                simulate(reader_url, "card", uid, secret=secret)
                page.wait_for_function(f"window.swaps.length > {before}", timeout=10_000)
                swapped_at, text = page.evaluate(f"window.swaps[{before}]")
                if name not in text:
                    raise RuntimeError(f"tap of {uid} showed something else than {name}'s account")
                samples.append(swapped_at / 1000 - sent)
            browser.close()
    finally:
        for process in reversed(processes):
            stop(process)
    log(f"{len(samples)} taps")
    return {"benchmark": "tap", "taps": len(samples), **summary_ms(samples)}
