"""``kiosk reader ...`` and ``kiosk readers`` subcommands.

The root ``kiosk`` command (library_kiosk/cli.py) calls :func:`add_subcommands` with its
argparse subparsers. The readers' settings are the ``[readers]`` table of the configuration
(library_kiosk.settings, the one part of the product this package imports). Each subcommand
sets ``func(args) -> int`` (the exit status) on the parsed arguments.
"""
from __future__ import annotations

import argparse
import glob
import sys
from collections.abc import Callable

from hardware import auth, client
from hardware.config import ReaderSettings
from hardware.events import ITEM_TAGS, ReaderEvent, StatusEvent


def configured_readers() -> ReaderSettings:
    """The ``[readers]`` table of the configuration in effect."""
    from library_kiosk import settings

    return ReaderSettings.from_mapping(settings.load()["readers"])


def add_subcommands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
                    load_settings: Callable[[], ReaderSettings] = configured_readers) -> None:
    reader = subparsers.add_parser("reader", help="card reader service and simulated taps")
    actions = reader.add_subparsers(dest="reader_command", required=True)

    tap = actions.add_parser("tap", help="simulate a card tap (needs a simulator reader)")
    tap.add_argument("uid", help="card UID, hex in reader order unless --format says otherwise")
    tap.add_argument("--format", default="hex",
                     choices=["hex", "hex_reversed", "decimal", "decimal_reversed"])
    tap.set_defaults(func=lambda args: _simulate(load_settings(), "card", args.uid,
                                                 format=args.format))

    scan = actions.add_parser("scan", help="simulate a barcode scan (needs a simulator reader)")
    scan.add_argument("code")
    scan.set_defaults(func=lambda args: _simulate(load_settings(), "barcode", args.code))

    item = actions.add_parser("item", help="put a library item's tag on the simulated pad (needs a simulator)")
    item.add_argument("uid", help="the tag's UID, hex (ISO 15693: 8 bytes, E0...)")
    item.add_argument("item_id", help="the item's primary identifier (its barcode, as a rule)")
    item.add_argument("--part", type=int, default=1, help="this tag's part of a multi-part set")
    item.add_argument("--parts", type=int, default=1, help="how many parts the set has")
    item.add_argument("--owner", default="", help="the owner library's ISIL")
    item.add_argument("--on-loan", action="store_true", help="the tag's security is off (checked out)")
    item.set_defaults(func=lambda args: _simulate(
        load_settings(), "item", args.uid, item_id=args.item_id, part=args.part, parts=args.parts,
        owner=args.owner, secured=not args.on_loan))

    item_off = actions.add_parser("item-off", help="take an item's tag off the simulated pad")
    item_off.add_argument("uid")
    item_off.set_defaults(func=lambda args: _simulate(load_settings(), "item_removed", args.uid))

    service = actions.add_parser("service", help="run the reader service in the foreground")
    service.add_argument("--port", type=int, help="override the port of service_url")
    service.set_defaults(func=lambda args: _run_service(load_settings(), args.port))

    readers = subparsers.add_parser("readers", help="list readers on this machine, then "
                                                    "show live taps until Ctrl-C")
    readers.add_argument("--no-follow", action="store_true", help="only list the readers")
    readers.set_defaults(func=lambda args: _list_and_follow(load_settings(), not args.no_follow))


def _simulate(settings: ReaderSettings, kind: str, value: str, **options: object) -> int:
    try:
        answer = client.simulate(settings.service_url, kind, value, auth.client_secret(settings.secret_file),
                                 **options)
    except client.ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:                          # the secret file cannot be read (another user's box)
        print(f"error: reader service secret {settings.secret_file}: {exc}", file=sys.stderr)
        return 1
    print(f"sent {kind} {answer['accepted']['value'] or '(pad empty)'} to {settings.service_url}")
    return 0


def _run_service(settings: ReaderSettings, port: int | None) -> int:
    from hardware.service import run_service, setup_logging
    setup_logging()
    return run_service(settings, port)


def _list_and_follow(settings: ReaderSettings, follow: bool) -> int:
    for line in local_readers():
        print(line)
    if not follow:
        return 0
    print(f"\nlive events from {settings.service_url} (Ctrl-C to stop):")
    try:
        for item in client.subscribe(settings.service_url, secret=auth.client_secret(settings.secret_file)):
            print(describe(item), flush=True)
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        print(f"error: reader service at {settings.service_url} is not reachable: {exc}",
              file=sys.stderr)
        return 1
    return 0


def describe(item: ReaderEvent | StatusEvent) -> str:
    if isinstance(item, StatusEvent):
        return "status: " + ", ".join(f"{r.name} {'online' if r.online else 'OFFLINE'}"
                                      for r in item.readers)
    if item.kind == ITEM_TAGS:
        tags = [f"{t.item_id or t.error}" + (f" ({t.part} of {t.parts})" if t.parts > 1 else "")
                + ("" if t.secured is None else " secured" if t.secured else " on loan") for t in item.items]
        return f"{item.kind:12} {item.reader}: {len(tags)} tag(s)" + (": " + ", ".join(tags) if tags else "")
    shown = item.formatted or item.value
    return f"{item.kind:12} {item.reader}: {shown} {item.technology}".rstrip()


def local_readers() -> list[str]:
    """One line per reader or scanner this machine can see, by kind."""
    lines = []
    try:
        from smartcard.System import readers as pcsc_readers
        found = [str(r) for r in pcsc_readers()]
        lines += [f"pcsc    {name}" for name in found] or ["pcsc    (no readers)"]
    except ImportError:
        lines.append("pcsc    (pyscard is not installed)")
    except Exception as exc:                        # pcscd not running
        lines.append(f"pcsc    (pcscd not available: {exc})")
    try:
        import nfc
        with nfc.ContactlessFrontend() as frontend:
            if frontend.open("usb"):
                lines.append(f"nfcpy   {frontend.device} (path usb)")
            else:
                lines.append("nfcpy   (no USB readers)")
    except ImportError:
        lines.append("nfcpy   (nfcpy is not installed)")
    except Exception as exc:
        lines.append(f"nfcpy   (no USB readers: {exc})")
    try:
        from serial.tools import list_ports
        ports = [f"serial  {p.device} {p.description}" for p in list_ports.comports()]
        lines += ports or ["serial  (no serial ports)"]
    except ImportError:
        lines.append("serial  (pyserial is not installed)")
    try:
        import evdev
        keyboards = sorted(glob.glob("/dev/input/by-id/*-event-kbd")) or evdev.list_devices()
        lines += [f"evdev   {path}" for path in keyboards] or ["evdev   (no input devices)"]
    except ImportError:
        lines.append("evdev   (evdev is not installed)")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point (``python -m hardware.cli``) until the kiosk CLI wires it."""
    parser = argparse.ArgumentParser(prog="kiosk")
    add_subcommands(parser.add_subparsers(dest="command", required=True), ReaderSettings)
    args = parser.parse_args(argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
