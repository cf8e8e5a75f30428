"""``kiosk staff add USERNAME --role ROLE``: create a staff user of the station (the first
administrator, for example). The password is prompted for, or read from standard input
with ``--password-stdin``."""
from __future__ import annotations

import getpass
import sys

from library_kiosk import settings


def cmd_staff_add(args) -> int:
    from library_kiosk.central.store import schema, staff

    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else getpass.getpass("Password: ")
    if not args.password_stdin and getpass.getpass("Repeat the password: ") != password:
        print("the passwords do not match; nothing was created", file=sys.stderr)
        return 1
    db = schema.init(settings.load()["central"]["database_url"])
    with db.connection_context():
        try:
            user = staff.create_staff(args.username, password, args.role, args.full_name or "")
        except staff.StaffError as exc:
            print(f"staff user not created: {exc}", file=sys.stderr)
            return 1
    print(f"staff user {user.username} created ({staff.ROLES[user.role]})")
    return 0


def cmd_provisioning_serve(args) -> int:
    from library_kiosk.web.serving import app_threads, serve
    from library_kiosk.web.tls import server_files
    from provisioning import create_app

    config = settings.load()
    tls = server_files(config, "provisioning")  # a missing or unreadable file stops the start, saying which
    serve(create_app(config), config["provisioning"]["host"], config["provisioning"]["port"],
          threads=app_threads(config, "provisioning"), tls=tls, table="provisioning")
    return 0


def add_subcommands(commands) -> None:
    provisioning = commands.add_parser("provisioning", help="the staff provisioning station")
    provisioning_commands = provisioning.add_subparsers(dest="provisioning_command", required=True)
    provisioning_commands.add_parser("serve", help="serve the station").set_defaults(func=cmd_provisioning_serve)

    from library_kiosk.central.store.staff import ROLES

    parser = commands.add_parser("staff", help="staff users of the provisioning station")
    staff_commands = parser.add_subparsers(dest="staff_command", required=True)
    add = staff_commands.add_parser("add", help="create a staff user")
    add.add_argument("username")
    add.add_argument("--role", choices=list(ROLES), default="circulation")
    add.add_argument("--full-name", default="")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=cmd_staff_add)
