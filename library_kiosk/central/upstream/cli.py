"""``kiosk upstream check`` and ``kiosk upstream replay``.

    kiosk upstream check [--identifier ID] [--pin-stdin]   try the configured upstream with a test patron
    kiosk upstream replay                                  send renewals queued while the upstream was down
"""
from __future__ import annotations

import sys

from library_kiosk.domain import clock


def _load(args):
    from library_kiosk import settings
    from library_kiosk.central import upstream
    from library_kiosk.central.store import schema
    from library_kiosk.central.upstream.config import UpstreamConfigError

    config = settings.load()
    try:
        backend = upstream.from_config(config)
    except (UpstreamConfigError, ValueError) as exc:
        print(f"upstream: {exc}", file=sys.stderr)
        return config, None, None
    db = schema.init(config["central"]["database_url"])
    return config, backend, db


def cmd_check(args) -> int:
    config, backend, db = _load(args)
    if backend is None:
        return 2
    values = config.get("upstream", {})
    identifier = args.identifier or values.get("test_patron", "")
    pin = sys.stdin.readline().strip() if args.pin_stdin else values.get("test_pin", "")
    print(f"upstream: {backend.kind}")
    with db.connection_context():
        rows = backend.check(identifier, pin, clock.today())  # each back end's steps (SIP2: status and AO too)
    backend.close()
    for step, ok, detail in rows:
        print(f"  {'ok  ' if ok else 'FAIL'}  {step}{': ' + detail if detail else ''}")
    return 0 if all(ok for _step, ok, _detail in rows) else 1


def cmd_replay(args) -> int:
    from library_kiosk.central.upstream import cache

    _config, backend, db = _load(args)
    if backend is None:
        return 2
    with db.connection_context():
        from library_kiosk.central.upstream.models import create_tables

        create_tables(db)
        counts = cache.replay(backend, clock.today())
        print(f"replayed: {counts['sent']} sent, {counts['renewed']} renewed, {counts['refused']} refused; "
              f"{cache.pending_count()} still pending")
    backend.close()
    return 0


def add_subcommands(commands) -> None:
    parser = commands.add_parser("upstream", help="the library system behind the central store")
    sub = parser.add_subparsers(dest="upstream_command", required=True)
    check = sub.add_parser("check", help="try the configured upstream with a test patron and print what works")
    check.add_argument("--identifier", help="a test patron's barcode or card (default: [upstream] test_patron)")
    check.add_argument("--pin-stdin", action="store_true", help="read the test patron's PIN from standard input")
    check.set_defaults(func=cmd_check)
    sub.add_parser("replay", help="send renewals queued while the upstream was down").set_defaults(func=cmd_replay)
