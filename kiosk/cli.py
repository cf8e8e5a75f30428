"""The kiosk box's commands (registered by the root ``kiosk`` command, library_kiosk/cli.py):

    kiosk serve                                   the kiosk web app
    kiosk sync once | run | status | push         sync with the central store (docs/sync.md)
"""
from __future__ import annotations

import sys
import time

from library_kiosk import settings


def cmd_kiosk_serve(args) -> int:
    from kiosk import create_app
    from library_kiosk.web.serving import app_threads, serve

    config = settings.load()
    serve(create_app(config), config["kiosk"]["host"], config["kiosk"]["port"],
          threads=app_threads(config, "kiosk"))
    return 0


def _sync_parts(config):

    from kiosk.cache import PatronCache, open_cache
    from kiosk.central_client import CentralClient
    from kiosk.devices import load_credential

    db = open_cache(config["kiosk"]["cache_url"])
    client = CentralClient(config["kiosk"]["central_url"], config["kiosk"]["central_timeout_seconds"],
                           token=lambda: (load_credential(config) or {}).get("token", ""))
    from kiosk.device_keys import KeyRing, keys_path

    return db, PatronCache(KeyRing(keys_path(config), client)), client  # pulls fetch the keys for the web app


def cmd_sync(args) -> int:
    """kiosk sync once | run | status | push: pull changes, push the outbox, heartbeat (docs/sync.md)."""
    from kiosk import sync

    config = settings.load()
    if args.mode == "status":
        try:
            db, cache, _client = _sync_parts(config)
            with db.connection_context():
                print(sync.status_json(cache, config["kiosk"]["trusted_time_hours"]))
        except _cache_faults() as exc:  # a cache that cannot even be read: its storage fault, as JSON
            print(sync.storage_status_json(exc, config["kiosk"]["cache_url"]))
            return 1
        return 0
    db, cache, client = _sync_parts(config)
    if args.mode == "push":
        with db.connection_context():
            report = sync.cycle_push_only(client, cache)
        print(f"sync: {report['sent']} operations sent; outbox {report['outbox_length']}"
              + (f"; {report['error']}" if report["error"] else ""), flush=True)
        return 1 if report["error"] else 0
    interval = args.interval if args.interval is not None else config["kiosk"]["sync_interval_seconds"]
    failures = 0
    faults = _cache_faults()
    while True:
        try:
            report = _sync_cycle(sync, db, cache, client, args.mode, config["kiosk"]["trusted_time_hours"])
        except faults as exc:  # the cache locked, full, read-only or missing: wait and try again
            failures += 1
            sync.storage_fault(client, exc, config["kiosk"]["cache_url"], config)  # status, doctor, heartbeat
            print(f"sync: the kiosk cache cannot be used just now ({exc}); will retry", file=sys.stderr, flush=True)
            if args.mode == "once":
                return 1
            time.sleep(min(60.0, interval * 2 ** min(failures, 6)))  # back off while it lasts, up to a minute
            continue
        failures = 0
        if report["error"]:
            print(f"sync: {report['error']}; will retry", file=sys.stderr, flush=True)
            if args.mode == "once":
                return 1
        if args.mode == "once":
            return 0
        time.sleep(interval)


def _cache_faults() -> tuple:
    import sqlite3

    import peewee

    return (peewee.PeeweeException, sqlite3.Error, OSError)


def _sync_cycle(sync, db, cache, client, mode: str, trusted_hours: float | None = None) -> dict:
    with db.connection_context():
        horizon = {"value": 0}

        def progress(applied, cursor):
            horizon["value"] = int(cache.state("horizon", "0") or 0)
            print(f"\r  {applied:,} records applied, cursor {cursor:,} of {horizon['value']:,}", end="",
                  file=sys.stderr, flush=True)

        report = sync.cycle(client, cache, progress=progress if mode == "once" else None, trusted_hours=trusted_hours)
        if mode == "once" or report["pulled"] or report["pushed"]:
            print(f"\nsync: {report['pulled']} records applied, {report['pushed']} operations sent, "
                  f"cursor {cache.cursor()}, outbox {sync.outbox.length()}", flush=True)
    return report


def add_subcommands(commands) -> None:
    commands.add_parser("serve", help="serve the kiosk web app").set_defaults(func=cmd_kiosk_serve)
    sync_parser = commands.add_parser("sync", help="sync the kiosk with the central store (docs/sync.md)")
    sync_parser.add_argument("mode", choices=["once", "run", "status", "push"],
                             help="once: one round; run: forever; status: show the sync state; push: the outbox only")
    sync_parser.add_argument("--interval", type=float, default=None,
                             help="seconds between rounds (run; default [kiosk] sync_interval_seconds)")
    sync_parser.set_defaults(func=cmd_sync)
