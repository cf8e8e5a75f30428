"""The ``kiosk`` command: every role of the product behind one console script.

    kiosk demo                      start everything with demo data and the simulated reader
    kiosk db init                   create the central store's tables
    kiosk demo load --patrons N     add generated demo patrons to the central store
    kiosk central serve             the central patron store API
    kiosk serve                     the kiosk web app
    kiosk provisioning serve        the staff provisioning station
    kiosk staff add NAME --role R   create a staff user of the station (password prompted or --password-stdin)
    kiosk sync once | run | status | push   sync with the central store (pull, outbox push, heartbeat)
    kiosk devices add NAME | revoke NAME | list   kiosk devices at the central store
    kiosk reader tap UID | scan CODE | service, kiosk readers   card and barcode readers
"""
from __future__ import annotations

import argparse
import sys
import time

from domain import clock
import settings


def _config(args) -> dict:
    return settings.load()


def cmd_db_init(args) -> int:
    from store import schema

    config = _config(args)
    schema.init(config["central"]["database_url"])
    print(f"central store ready at {config['central']['database_url']}")
    return 0


def cmd_demo_load(args) -> int:
    from store import demo, schema
    from store.models import User

    config = _config(args)
    db = schema.init(config["central"]["database_url"])
    with db.connection_context():
        from store.staff import ensure_demo_staff

        ensure_demo_staff()  # the station's demo administrator (see README)
        if args.if_empty and User.select().exists():
            print("central store already holds patrons; demo data not loaded again")
            return 0
        started = time.monotonic()
        counts = demo.generate(args.patrons, seed=args.seed, progress=_progress("patrons"))
    print(f"\nloaded {counts} in {time.monotonic() - started:.1f} s")
    return 0


def _progress(unit: str):
    shown = {"phase": ""}

    def report(done: int, total: int, phase: str = "") -> None:  # a later phase, e.g. the kiosk documents
        if phase != shown["phase"]:
            shown["phase"] = phase
            print(file=sys.stderr)
        print(f"\r  {phase or unit}: {done:,} of {total:,}", end="", file=sys.stderr, flush=True)
    return report


def cmd_central_serve(args) -> int:
    import central
    from kiosk.serving import serve

    config = _config(args)
    serve(central.create_app(config), config["central"]["host"], config["central"]["port"], workers=args.workers)
    return 0


def cmd_kiosk_serve(args) -> int:
    import kiosk
    from kiosk.serving import app_threads, serve

    config = _config(args)
    serve(kiosk.create_app(config), config["kiosk"]["host"], config["kiosk"]["port"],
          threads=app_threads(config, "kiosk"))
    return 0


def cmd_provisioning_serve(args) -> int:
    import provisioning
    from kiosk.serving import app_threads, serve

    config = _config(args)
    serve(provisioning.create_app(config), config["provisioning"]["host"], config["provisioning"]["port"],
          threads=app_threads(config, "provisioning"))
    return 0


def _sync_parts(config):
    import os

    from kiosk.cache import PatronCache, load_device_key, open_cache
    from kiosk.central_client import CentralClient
    from kiosk.devices import load_credential

    db = open_cache(config["kiosk"]["cache_url"])
    key = load_device_key(config["kiosk"]["identifier_key"], os.path.join(config["data_dir"]))
    client = CentralClient(config["kiosk"]["central_url"], config["kiosk"]["central_timeout_seconds"],
                           token=lambda: (load_credential(config) or {}).get("token", ""))
    return db, PatronCache(key), client


def cmd_sync(args) -> int:
    """kiosk sync once | run | status | push: pull changes, push the outbox, heartbeat (docs/sync.md)."""
    from kiosk import sync

    config = _config(args)
    db, cache, client = _sync_parts(config)
    if args.mode == "status":
        with db.connection_context():
            print(sync.status_json(cache))
        return 0
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
            report = _sync_cycle(sync, db, cache, client, args.mode)
        except faults as exc:  # the cache locked, full, read-only or missing: wait and try again
            failures += 1
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


def _sync_cycle(sync, db, cache, client, mode: str) -> dict:
    with db.connection_context():
        horizon = {"value": 0}

        def progress(applied, cursor):
            horizon["value"] = int(cache.state("horizon", "0") or 0)
            print(f"\r  {applied:,} records applied, cursor {cursor:,} of {horizon['value']:,}", end="",
                  file=sys.stderr, flush=True)

        report = sync.cycle(client, cache, progress=progress if mode == "once" else None)
        if mode == "once" or report["pulled"] or report["pushed"]:
            print(f"\nsync: {report['pulled']} records applied, {report['pushed']} operations sent, "
                  f"cursor {cache.cursor()}, outbox {sync.outbox.length()}", flush=True)
    return report


def cmd_devices(args) -> int:
    """kiosk devices add NAME | revoke NAME | list (at the central store)."""
    import json

    from store import devices, schema

    config = _config(args)
    db = schema.init(config["central"]["database_url"])
    with db.connection_context():
        try:
            if args.devices_command == "add":
                code = devices.add(args.name, replace=args.replace)
                print(f"enrolment code for {args.name}: {code}\n(valid {devices.CODE_VALID_HOURS} hours, once; "
                      f"on the kiosk: kiosk enrol {code})")
            elif args.devices_command == "revoke":
                devices.revoke(args.name)
                print(f"{args.name} revoked; the central store refuses it from its next request")
            else:
                print(json.dumps(devices.listing(), indent=2))
        except devices.DeviceError as exc:
            print(str(exc), file=sys.stderr)
            return 1
    return 0


def cmd_usage(args) -> int:
    """kiosk usage report --from DATE --to DATE [--by kiosk|day|week|month] [--kiosk NAME] [--csv] (central store)."""
    import datetime as dt

    from store import schema, usage

    config = _config(args)
    db = schema.init(config["central"]["database_url"])
    with db.connection_context():
        try:
            start, end = usage.parse_range(args.start, args.end, clock.today())
            report = usage.table(start, end, args.by, args.kiosk or None)
        except usage.UsageError as exc:
            print(str(exc), file=sys.stderr)
            return 2
    if args.csv:
        sys.stdout.write(usage.csv_text(report))
        return 0
    header = ["counter"] + report["columns"] + ["total"]
    lines = [header] + [[row["label"]] + [str(v) for v in row["values"]] + [str(row["total"])]
                        for row in report["rows"]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print(f"kiosk usage {start} to {end}, by {args.by}" + (f", kiosk {args.kiosk}" if args.kiosk else ""))
    for line in lines:
        print("  ".join(cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(line)))
    if not report["rows"]:
        print("no kiosk usage was reported for this range")
    return 0


def cmd_demo(args) -> int:
    from kiosk.demo_run import run

    return run(None, patrons=args.patrons)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="Library self-service kiosk and patron store")
    parser.add_argument("--config", help="TOML configuration file (default: $KIOSK_CONFIG, then built-in defaults)")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="start everything with demo data and the simulated reader")
    demo_commands = demo.add_subparsers(dest="demo_command")
    demo.add_argument("--patrons", type=int, default=500)
    demo.set_defaults(func=cmd_demo)
    load = demo_commands.add_parser("load", help="add generated demo patrons to the central store")
    load.add_argument("--patrons", type=int, default=500)
    load.add_argument("--seed", type=int, default=1)
    load.add_argument("--if-empty", action="store_true", help="do nothing if the store already holds patrons")
    load.set_defaults(func=cmd_demo_load)

    db = commands.add_parser("db", help="database tasks")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("init", help="create the central store's tables").set_defaults(func=cmd_db_init)

    central_parser = commands.add_parser("central", help="the central patron store")
    central_commands = central_parser.add_subparsers(dest="central_command", required=True)
    central_serve = central_commands.add_parser("serve", help="serve the central store API")
    central_serve.add_argument("--workers", type=int, default=2)
    central_serve.set_defaults(func=cmd_central_serve)

    commands.add_parser("serve", help="serve the kiosk web app").set_defaults(func=cmd_kiosk_serve)

    provisioning = commands.add_parser("provisioning", help="the staff provisioning station")
    provisioning_commands = provisioning.add_subparsers(dest="provisioning_command", required=True)
    provisioning_commands.add_parser("serve", help="serve the station").set_defaults(func=cmd_provisioning_serve)

    from provisioning import cli as provisioning_cli

    provisioning_cli.add_subcommands(commands)  # kiosk staff add USERNAME --role ROLE

    sync_parser = commands.add_parser("sync", help="sync the kiosk with the central store (docs/sync.md)")
    sync_parser.add_argument("mode", choices=["once", "run", "status", "push"],
                             help="once: one round; run: forever; status: show the sync state; push: the outbox only")
    sync_parser.add_argument("--interval", type=float, default=None,
                             help="seconds between rounds (run; default [kiosk] sync_interval_seconds)")
    sync_parser.set_defaults(func=cmd_sync)

    # kiosk enrol CODE is appliance/cli.py's (it calls kiosk.devices.enrol and writes the configuration).
    devices_parser = commands.add_parser("devices", help="kiosk devices at the central store")
    devices_commands = devices_parser.add_subparsers(dest="devices_command", required=True)
    add_device = devices_commands.add_parser("add", help="register a kiosk and print its one-time enrolment code")
    add_device.add_argument("name")
    add_device.add_argument("--replace", action="store_true", help="re-enrol an existing device (new code)")
    revoke_device = devices_commands.add_parser("revoke", help="revoke a kiosk's credential")
    revoke_device.add_argument("name")
    devices_commands.add_parser("list", help="devices with their last pull and push")
    devices_parser.set_defaults(func=cmd_devices)

    usage_parser = commands.add_parser("usage", help="kiosk usage statistics at the central store (counts only)")
    usage_commands = usage_parser.add_subparsers(dest="usage_command", required=True)
    report = usage_commands.add_parser("report", help="counters per kiosk (or day, week, month) over a date range")
    report.add_argument("--from", dest="start", default="", help="first day, YYYY-MM-DD (default: the 1st of this month)")
    report.add_argument("--to", dest="end", default="", help="last day, YYYY-MM-DD (default: today)")
    report.add_argument("--by", choices=["kiosk", "day", "week", "month"], default="kiosk")
    report.add_argument("--kiosk", default="", help="one kiosk only")
    report.add_argument("--csv", action="store_true", help="CSV, as the staff station's download")
    usage_parser.set_defaults(func=cmd_usage)

    from hardware import cli as hardware_cli
    from hardware.config import ReaderSettings

    hardware_cli.add_subcommands(commands, lambda: ReaderSettings.from_mapping(settings.load()["readers"]))
    from upstream import cli as upstream_cli

    upstream_cli.add_subcommands(commands)  # kiosk upstream check | replay
    __import__("store.jobs.cli", fromlist=["add_subcommands"]).add_subcommands(commands)  # kiosk admin ...
    __import__("appliance.cli", fromlist=["add_subcommands"]).add_subcommands(commands)  # install, upgrade, doctor, enrol ...
    __import__("settings.cli", fromlist=["add_subcommands"]).add_subcommands(commands)  # kiosk config show | check
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.config:  # every part, and every process started from here, reads the same file
        import os

        os.environ["KIOSK_CONFIG"] = os.path.abspath(args.config)
    try:
        return args.func(args) or 0
    except settings.SettingsError as exc:  # a misspelt key or a wrong kind of value: say which, no traceback
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
