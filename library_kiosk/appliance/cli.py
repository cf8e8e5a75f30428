"""The appliance's commands, added to the ``kiosk`` console script by ``add_subcommands``.

    kiosk install --role kiosk|station|central [--wheelhouse DIR]   set up this box (as root)
    kiosk upgrade (--wheelhouse DIR | --source DIR)                  new release, health-checked, rollback
    kiosk migrate --role R                                           migrate the local database
    kiosk doctor [--role R]                                          check the box, say how to fix it
    kiosk enrol CODE [--central URL]                                 enrol at the central store
    kiosk heartbeat                                                  print this box's heartbeat (JSON)
    kiosk screen prepare | launch | session                          the kiosk's browser (systemd units)
"""
from __future__ import annotations

import json
import os


def _install(args) -> int:
    from library_kiosk.appliance import install

    return install.run_from_args(args)


def _upgrade(args) -> int:
    from library_kiosk.appliance import upgrade

    return upgrade.run_from_args(args)


def _migrate(args) -> int:
    from library_kiosk.appliance import upgrade

    return upgrade.migrate_command(args)


def _doctor(args) -> int:
    from library_kiosk.appliance import doctor

    return doctor.run_from_args(args)


def _enrol(args) -> int:
    from library_kiosk.appliance import enrol

    return enrol.enrol(args.code, args.config_file or os.environ.get("KIOSK_CONFIG") or "/etc/kiosk/kiosk.toml",
                       args.central)


def _heartbeat(args) -> int:
    from kiosk import heartbeat

    print(json.dumps(heartbeat.collect(), indent=2))
    return 0


def _screen(args) -> int:
    from library_kiosk.appliance import screen

    if args.screen_command == "prepare":
        return screen.prepare(args.output, args.owner)
    if args.screen_command == "launch":
        return screen.launch(args.settings)
    return screen.session(args.settings)


def add_subcommands(commands) -> None:
    from library_kiosk.appliance.install import PREFIX, ROLES, build_parser

    roles = sorted(ROLES)
    install = commands.add_parser("install", help="set up this box for a role (root)")
    build_parser(install)
    install.set_defaults(func=_install)

    upgrade = commands.add_parser("upgrade", help="install a new release, switch if healthy, else roll back")
    source = upgrade.add_mutually_exclusive_group(required=True)
    source.add_argument("--wheelhouse", metavar="DIR")
    source.add_argument("--source", metavar="DIR")
    upgrade.add_argument("--role", choices=roles, default="kiosk")
    upgrade.add_argument("--prefix", default=PREFIX)
    upgrade.add_argument("--health-url", help="default: the role's own /health")
    upgrade.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for health")
    upgrade.set_defaults(func=_upgrade)

    migrate = commands.add_parser("migrate", help="bring the local database up to this release")
    migrate.add_argument("--role", choices=roles, default="kiosk")
    migrate.set_defaults(func=_migrate)

    doctor = commands.add_parser("doctor", help="check this box and say how to fix what is wrong")
    doctor.add_argument("--role", choices=roles, help="default: the role whose units are installed")
    doctor.set_defaults(func=_doctor)

    enrol = commands.add_parser("enrol", help="enrol this box at the central store with a one-time code")
    enrol.add_argument("code")
    enrol.add_argument("--central", metavar="URL", help="default: [kiosk] central_url")
    enrol.add_argument("--config-file", help="the file to write (default: $KIOSK_CONFIG, /etc/kiosk/kiosk.toml)")
    enrol.set_defaults(func=_enrol)

    commands.add_parser("heartbeat", help="print this box's heartbeat as JSON").set_defaults(func=_heartbeat)

    screen = commands.add_parser("screen", help="the kiosk's browser (used by kiosk-browser.service)")
    actions = screen.add_subparsers(dest="screen_command", required=True)
    prepare = actions.add_parser("prepare", help="write the [screen] settings for the display user (root)")
    prepare.add_argument("--output", required=True)
    prepare.add_argument("--owner")
    launch = actions.add_parser("launch", help="run cage with the kiosk session")
    launch.add_argument("--settings", required=True)
    session = actions.add_parser("session", help="inside the compositor: rotate, then run Chromium")
    session.add_argument("--settings")
    screen.set_defaults(func=_screen)
