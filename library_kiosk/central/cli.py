"""The central store's commands (registered by the root ``kiosk`` command, library_kiosk/cli.py):

    kiosk db init                                 create the central store's tables
    kiosk central serve                           the central patron store API
    kiosk devices add NAME | revoke NAME | list   kiosk devices at the central store
    kiosk usage report ...                        kiosk usage statistics (counts only)
    kiosk tls init --hosts H,H | fingerprint FILE the fleet CA and a server certificate (docs/tls.md)
"""
from __future__ import annotations

import sys

from library_kiosk import settings
from library_kiosk.domain import clock


def cmd_db_init(args) -> int:
    from library_kiosk.central.store import schema

    config = settings.load()
    schema.init(config["central"]["database_url"])
    print(f"central store ready at {config['central']['database_url']}")
    return 0


def cmd_central_serve(args) -> int:
    from library_kiosk.central.api import create_app
    from library_kiosk.web.serving import serve
    from library_kiosk.web.tls import server_files

    config = settings.load()
    tls = server_files(config, "central")  # a missing or unreadable file stops the start, saying which
    serve(create_app(config), config["central"]["host"], config["central"]["port"], workers=args.workers, tls=tls,
          table="central")
    return 0


def cmd_tls(args) -> int:
    """kiosk tls init --hosts H[,H...] [--dir DIR] [--name NAME] | kiosk tls fingerprint FILE (docs/tls.md)."""
    import os

    from library_kiosk.web import tls

    if args.tls_command == "fingerprint":
        print(f"sha256 {tls.file_fingerprint(args.file)}  {args.file}")
        return 0
    folder = args.dir or os.path.join(settings.load()["data_dir"], "tls")
    made = tls.init(folder, args.hosts, args.name)
    print(("created the fleet CA " if made["ca_created"] else "kept the fleet CA ") + made["ca"]
          + f" (sha256 {tls.file_fingerprint(made['ca'])}); its key {os.path.join(folder, 'ca.key')} (mode 0600) "
          "signs every certificate of the fleet: keep it on this box only, or offline")
    print(f"created {made['cert']} and {made['key']} (mode 0600) for {', '.join(made['hosts'])}")
    table = "provisioning" if args.name in ("station", "provisioning") else "central"
    print(f"\nin this box's configuration:\n  [{table}]\n  tls_cert = \"{os.path.abspath(made['cert'])}\"\n"
          f"  tls_key = \"{os.path.abspath(made['key'])}\"")
    print(f"on each kiosk: copy {made['ca']} there and set\n  [kiosk]\n  central_url = \"https://{made['hosts'][0]}:"
          f"{settings.load()['central']['port']}\"\n  central_ca = \"/etc/kiosk/fleet-ca.pem\"")
    return 0


def cmd_devices(args) -> int:
    """kiosk devices add NAME | revoke NAME | list (at the central store)."""
    import json

    from library_kiosk.central.store import devices, schema

    config = settings.load()
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

    from library_kiosk.central.store import schema, usage

    config = settings.load()
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


def add_subcommands(commands) -> None:
    db = commands.add_parser("db", help="database tasks")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("init", help="create the central store's tables").set_defaults(func=cmd_db_init)

    central_parser = commands.add_parser("central", help="the central patron store")
    central_commands = central_parser.add_subparsers(dest="central_command", required=True)
    central_serve = central_commands.add_parser("serve", help="serve the central store API")
    central_serve.add_argument("--workers", type=int, default=2)
    central_serve.set_defaults(func=cmd_central_serve)
    tls_parser = commands.add_parser("tls", help="the fleet CA and the central store's or station's certificate")
    tls_commands = tls_parser.add_subparsers(dest="tls_command", required=True)
    tls_init = tls_commands.add_parser("init", help="the fleet CA (made once) and a server certificate signed by it")
    tls_init.add_argument("--hosts", required=True,
                          help="the names and addresses kiosks use, comma-separated: central.library.local,10.0.0.5")
    tls_init.add_argument("--dir", default="", help="where the files go (default: {data_dir}/tls)")
    tls_init.add_argument("--name", default="central",
                          help="the certificate's file name: central (default), or station for the staff station")
    tls_fingerprint = tls_commands.add_parser("fingerprint", help="the SHA-256 fingerprint of a PEM certificate")
    tls_fingerprint.add_argument("file")
    tls_parser.set_defaults(func=cmd_tls)
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
    report.add_argument("--from", dest="start", default="",
                        help="first day, YYYY-MM-DD (default: the 1st of this month)")
    report.add_argument("--to", dest="end", default="", help="last day, YYYY-MM-DD (default: today)")
    report.add_argument("--by", choices=["kiosk", "day", "week", "month"], default="kiosk")
    report.add_argument("--kiosk", default="", help="one kiosk only")
    report.add_argument("--csv", action="store_true", help="CSV, as the staff station's download")
    usage_parser.set_defaults(func=cmd_usage)

