"""``kiosk demo``: the whole system on its embedded defaults, with demo data and the
simulated reader, in the foreground. Ctrl-C stops every process it started."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import requests

from library_kiosk import settings


def _wait_for(url: str, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return False


DEMO_READERS = [{"type": "simulator", "name": "Simulated reader"}]  # `kiosk reader tap UID` taps a card


def run(config_path: str | None, patrons: int = 500) -> int:
    if config_path:
        os.environ["KIOSK_CONFIG"] = config_path
    config = settings.load()
    if not config["readers"]["devices"]:  # the simulator is off by default (anyone who reaches it taps any card):
        os.environ["KIOSK_READERS_DEVICES"] = json.dumps(DEMO_READERS)  # the demo's reader service has it
    cli = [sys.executable, "-m", "library_kiosk"]
    subprocess.run(cli + ["demo", "load", "--patrons", str(patrons), "--if-empty"], check=True)
    from library_kiosk import demo_mail

    sink, mail_note = demo_mail.start_for_demo(config)  # before the processes start: they inherit its settings

    # The central store first: the kiosk is enrolled and its cache filled before it starts,
    # so it knows its device name and has patrons to show from the first tap.
    roles = {
        "reader service": ["reader", "service"],
        "kiosk": ["serve"],
        "provisioning station": ["provisioning", "serve"],
        "sync worker": ["sync", "run"],
    }
    children: list[subprocess.Popen] = []

    def stop(*_args):
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        if sink is not None:
            sink.stop()

    signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(0)))
    try:
        children.append(subprocess.Popen(cli + ["central", "serve"]))
        central_url = config["kiosk"]["central_url"]
        if not _wait_for(central_url + "/health"):
            print("the central store did not start; see the messages above", file=sys.stderr)
            stop()
            return 1
        _enrol_demo_kiosk(config)
        subprocess.run(cli + ["sync", "once"], check=True)
        commands = [cli + ["central", "serve"]] + [cli + command for command in roles.values()]
        for command in commands[1:]:
            children.append(subprocess.Popen(command))
        kiosk = config["kiosk"]
        _wait_for(f"http://{kiosk['host']}:{kiosk['port']}/")
        _welcome(config, mail_note)
        names = ["central store", *roles]
        return _supervise(children, commands, names, stop)
    except KeyboardInterrupt:
        print("\nstopping…")
        stop()
        return 0


RESTARTS_PER_MINUTE = 5  # like systemd's StartLimitBurst: a child that keeps dying stops the demo


def _supervise(children: list[subprocess.Popen], commands: list[list[str]], names: list[str], stop) -> int:
    """Start again any process that exits, as systemd does on the appliance (Restart=always); give up, and stop
    the rest, when one exits more than RESTARTS_PER_MINUTE times in a minute."""
    exits: dict[int, list[float]] = {}
    while True:
        time.sleep(0.5)
        for index, child in enumerate(children):
            if child.poll() is None:
                continue
            now = time.monotonic()
            recent = [t for t in exits.get(index, []) if now - t < 60] + [now]
            exits[index] = recent
            if len(recent) > RESTARTS_PER_MINUTE:
                print(f"the {names[index]} exited {len(recent)} times in a minute; stopping everything",
                      file=sys.stderr, flush=True)
                stop()
                return 1
            print(f"the {names[index]} exited with status {child.returncode}; starting it again",
                  file=sys.stderr, flush=True)
            children[index] = subprocess.Popen(commands[index])


def _enrol_demo_kiosk(config: dict) -> None:
    """The demo enrols its kiosk itself: a device code made at the central store and exchanged at once
    (what `kiosk devices add NAME` and `kiosk enrol CODE` do by hand). Kept if still valid."""
    from kiosk import devices as kiosk_devices
    from library_kiosk.central.store import devices
    from library_kiosk.central.store.db import bind

    name = config["kiosk"]["device_name"]
    credential = kiosk_devices.load_credential(config)
    db = bind(config["central"]["database_url"])
    with db.connection_context():
        if credential and (device := devices.authenticate(credential["token"])) and device.status == "active":
            return
        code = devices.add(name, replace=True)
    kiosk_devices.enrol(config["kiosk"]["central_url"], code, config)
    print(f"  enrolled the demo kiosk as {name}", flush=True)


def _item_note(circulates: bool, held, library: str) -> str:
    """What a demo item shows at the kiosk, in a few words for the banner."""
    if not circulates:
        return "   (library use only: refused, with its reason)"
    if held:
        return f"   (requested by {held[0]})"
    return "   (of another library: a return goes to the desk)" if library != "MAIN" else ""


def _welcome(config: dict, mail_note: str = "") -> None:
    from library_kiosk.central.store import demo
    from library_kiosk.central.store.db import bind
    from library_kiosk.central.store.models import Identifier, User

    db = bind(config["central"]["database_url"])
    with db.connection_context():
        examples = demo.showcase()
        reader = demo.SIGN_IN_PATRONS[0][0]  # in good standing, asked for a PIN: the whole flow
        card = (Identifier.select(Identifier.value).join(User)
                .where(Identifier.id_type == "CARD_SERIAL_NUMBER", User.primary_id == reader).scalar())
    k, p, c = config["kiosk"], config["provisioning"], config["central"]
    from library_kiosk.central.store.staff import DEMO_STAFF_PASSWORD, DEMO_STAFF_USER

    print(f"""
  Kiosk                 http://{k['host']}:{k['port']}
  Provisioning station  http://{p['host']}:{p['port']}   (log in as {DEMO_STAFF_USER} / {DEMO_STAFF_PASSWORD})
  Central store API     http://{c['host']}:{c['port']}/api/openapi.json

  Demo barcodes to type or scan at the kiosk (every demo PIN is {demo.DEMO_PIN}):""")
    for situation, barcodes in examples.items():
        for barcode in barcodes:
            print(f"    {barcode}   {situation}")
    if card:
        print(f"\n  Simulate a card tap:   .venv/bin/kiosk reader tap {card}   ({reader}, PIN {demo.DEMO_PIN})")
    print("\n  Items to borrow (Borrow, after signing in) or give back (Return), typed or scanned:")
    for barcode, title, *_rest, circulates, _kiosk, held in demo.DEMO_ITEMS:
        print(f"    {barcode}   {title}{_item_note(circulates, held, _rest[-1])}")
    print("\n  No card? \"No card? Sign in\" at the kiosk takes a user name and password (PIN "
          f"{demo.DEMO_PIN} for their barcodes and cards too):")
    for primary_id, first, last, _group, password, _number, _card in demo.SIGN_IN_PATRONS:
        print(f"    {primary_id:<15} {password:<22} {first} {last}")
    if mail_note:
        print(f"\n  Mail: {mail_note}")
        if os.environ.get("KIOSK_MAIL_DEMO_SINK_DIR"):
            print("        (read them at the station: Demo mail, /demo-mail, as an administrator)")
    print("\n  Ctrl-C stops everything.\n", flush=True)


def cmd_demo_load(args) -> int:
    from library_kiosk.central.admin_cli import progress_printer
    from library_kiosk.central.store import demo, schema
    from library_kiosk.central.store.models import User

    config = settings.load()
    db = schema.init(config["central"]["database_url"])
    with db.connection_context():
        from library_kiosk.central.store.staff import ensure_demo_staff

        ensure_demo_staff()  # the station's demo administrator (see README)
        if args.if_empty and User.select().exists():
            demo.add_sign_in_patrons()  # (added to a demo library loaded before they existed)
            demo.add_demo_items()  # (likewise: items to borrow and give back, issue 18)
            print("central store already holds patrons; demo data not loaded again")
            return 0
        started = time.monotonic()
        counts = demo.generate(args.patrons, seed=args.seed, progress=progress_printer("patrons"))
        demo.add_sign_in_patrons()
        demo.add_demo_items()
    print(f"\nloaded {counts} in {time.monotonic() - started:.1f} s")
    return 0


def cmd_demo(args) -> int:
    return run(None, patrons=args.patrons)


def add_subcommands(commands) -> None:
    demo = commands.add_parser("demo", help="start everything with demo data and the simulated reader")
    demo_commands = demo.add_subparsers(dest="demo_command")
    demo.add_argument("--patrons", type=int, default=500)
    demo.set_defaults(func=cmd_demo)
    load = demo_commands.add_parser("load", help="add generated demo patrons to the central store")
    load.add_argument("--patrons", type=int, default=500)
    load.add_argument("--seed", type=int, default=1)
    load.add_argument("--if-empty", action="store_true", help="do nothing if the store already holds patrons")
    load.set_defaults(func=cmd_demo_load)

