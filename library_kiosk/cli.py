"""The ``kiosk`` command: one console script for every role, each role's commands in its own package.

The root knows only which module registers which command (``COMMANDS``) and imports that module
when its command is asked for, so ``kiosk reader tap`` loads the reader client and the settings,
not Flask, peewee or the central store. ``kiosk --help`` imports none of them.

    kiosk demo                      start everything with demo data and the simulated reader
    kiosk demo load --patrons N     add generated demo patrons to the central store
    kiosk serve | sync ...          the kiosk box                       (kiosk/cli.py)
    kiosk reader ... | readers      card and barcode readers            (hardware/cli.py)
    kiosk provisioning serve        the staff provisioning station      (provisioning/cli.py)
    kiosk staff add NAME --role R   a staff user of the station         (provisioning/cli.py)
    kiosk db init | central serve | devices ... | usage ... | tls ...   the central store (library_kiosk/central/cli.py)
    kiosk admin ...                 the central store's jobs            (library_kiosk/central/admin_cli.py)
    kiosk upstream ...              the library system behind the store (library_kiosk/central/upstream/cli.py)
    kiosk install | upgrade | migrate | doctor | enrol | heartbeat | screen   the appliance
    kiosk config show | check       the configuration in effect         (library_kiosk/settings/cli.py)
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

# command -> (the module whose add_subcommands(commands) registers it, its one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("library_kiosk.demo", "start everything with demo data and the simulated reader"),
    "serve": ("kiosk.cli", "serve the kiosk web app"),
    "sync": ("kiosk.cli", "sync the kiosk with the central store (docs/sync.md)"),
    "reader": ("hardware.cli", "card reader service and simulated taps"),
    "readers": ("hardware.cli", "list readers on this machine, then show live taps until Ctrl-C"),
    "provisioning": ("provisioning.cli", "the staff provisioning station"),
    "staff": ("provisioning.cli", "staff users of the provisioning station"),
    "db": ("library_kiosk.central.cli", "database tasks"),
    "central": ("library_kiosk.central.cli", "the central patron store"),
    "devices": ("library_kiosk.central.cli", "kiosk devices at the central store"),
    "usage": ("library_kiosk.central.cli", "kiosk usage statistics at the central store (counts only)"),
    "tls": ("library_kiosk.central.cli", "the fleet CA and the central store's or station's TLS certificate"),
    "admin": ("library_kiosk.central.admin_cli", "central store administration: patron feed and jobs"),
    "upstream": ("library_kiosk.central.upstream.cli", "the library system behind the central store"),
    "install": ("library_kiosk.appliance.cli", "set up this box for a role (root)"),
    "upgrade": ("library_kiosk.appliance.cli", "install a new release, switch if healthy, else roll back"),
    "migrate": ("library_kiosk.appliance.cli", "bring the local database up to this release"),
    "doctor": ("library_kiosk.appliance.cli", "check this box and say how to fix what is wrong"),
    "enrol": ("library_kiosk.appliance.cli", "enrol this box at the central store with a one-time code"),
    "heartbeat": ("library_kiosk.appliance.cli", "print this box's heartbeat as JSON"),
    "screen": ("library_kiosk.appliance.cli", "the kiosk's browser (used by kiosk-browser.service)"),
    "config": ("library_kiosk.settings.cli", "show the configuration in effect, or check a file"),
}


def _asked_for(argv: list[str]) -> str | None:
    """The command named in ``argv`` (skipping ``--config FILE``), or None."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser with the asked-for command's module loaded (every module when ``argv`` is None)."""
    parser = argparse.ArgumentParser(prog="kiosk", description="Library self-service kiosk and patron store")
    parser.add_argument("--config", help="TOML configuration file (default: $KIOSK_CONFIG, then built-in defaults)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    asked = _asked_for(argv) if argv is not None else None
    if argv is not None and asked not in COMMANDS:  # help, or a typo: list the commands, load nothing
        for name, (_module, help_text) in COMMANDS.items():
            commands.add_parser(name, help=help_text)
        return parser
    modules = [COMMANDS[asked][0]] if asked else list(dict.fromkeys(module for module, _help in COMMANDS.values()))
    for module in modules:
        importlib.import_module(module).add_subcommands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    if args.config:  # every part, and every process started from here, reads the same file
        os.environ["KIOSK_CONFIG"] = os.path.abspath(args.config)
    from library_kiosk.settings import SettingsError

    try:
        return args.func(args) or 0
    except SettingsError as exc:  # a misspelt key or a wrong kind of value: say which, no traceback
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
