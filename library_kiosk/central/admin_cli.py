"""``kiosk admin ...``: the central store's administration jobs from the command line.

    kiosk admin feed load FILE --format csv|alma-xml --source STUDENT|HR|VISITORS [--full] [--dry-run]
    kiosk admin purge [--grace-days N] [--record-type T] [--user-group G] [--max-owed AMOUNT]
    kiosk admin waive --max-threshold AMOUNT --reason TEXT [--exclude-overdue] [--user-group G] [--fee-type T]
    kiosk admin merge DUPLICATE KEEP [--segments notes,identifiers,roles,...] [--copy-as-internal | --copy-as-external]
    kiosk admin groups import FILE | report | move FROM TO | remove CODE
    kiosk admin items import FILE.csv [--dry-run]
    kiosk admin calendar close|open DAY [--library CODE] [--description TEXT] | list
    kiosk admin anonymise [--days N]
    kiosk admin jobs list [--job NAME] [--limit N] | show ID

Every job runs as a dry run first and prints its report; then, unless
``--dry-run``, asks for confirmation (``--yes`` skips the question) and runs.
"""
from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sys
from collections.abc import Callable

from library_kiosk import settings
from library_kiosk.domain import clock

SOURCES = ("STUDENT", "HR", "VISITORS")


def add_subcommands(commands) -> None:
    admin = commands.add_parser("admin", help="central store administration: patron feed and user-management jobs")
    sub = admin.add_subparsers(dest="admin_command", required=True)

    def job(parser, func):
        parser.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
        parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
        parser.add_argument("--operator", default=None, help="who runs the job (default: the login name)")
        parser.add_argument("--today", type=dt.date.fromisoformat, default=None, help=argparse_hidden())
        parser.set_defaults(func=func)
        return parser

    feed = sub.add_parser("feed", help="the patron feed").add_subparsers(dest="feed_command", required=True)
    load = job(feed.add_parser("load", help="load a feed file of external records"), cmd_feed)
    load.add_argument("file")
    load.add_argument("--format", choices=("csv", "alma-xml"), required=True)
    load.add_argument("--source", choices=SOURCES, required=True)
    load.add_argument("--full", action="store_true", help="the file holds all the source's records: "
                      "deactivate the ones missing from it")
    load.add_argument("--encoding", default="utf-8", help="CSV encoding (default utf-8)")

    purge = job(sub.add_parser("purge", help="purge records whose purge date has passed"), cmd_purge)
    purge.add_argument("--grace-days", type=int, default=0)
    purge.add_argument("--record-type", choices=("STAFF", "PUBLIC", "CONTACT"))
    purge.add_argument("--user-group")
    purge.add_argument("--max-owed", help="spare users owing more than this amount")

    waive = job(sub.add_parser("waive", help="bulk fine waiving"), cmd_waive)
    waive.add_argument("--max-threshold", required=True, help="users owing more are skipped")
    waive.add_argument("--reason", required=True)
    waive.add_argument("--comment", default="")
    waive.add_argument("--exclude-overdue", action="store_true", help="skip users with overdue loans")
    waive.add_argument("--user-group")
    waive.add_argument("--fee-type")

    merge = job(sub.add_parser("merge", help="merge a duplicate record into the record kept"), cmd_merge)
    merge.add_argument("duplicate", help="primary id of the duplicate (deleted)")
    merge.add_argument("keep", help="primary id of the record kept")
    merge.add_argument("--segments", default="notes,identifiers,statistics,contact,blocks,roles,details",
                       help="comma-separated: notes, identifiers, statistics, contact, blocks, roles, details")
    choice = merge.add_mutually_exclusive_group()
    choice.add_argument("--copy-as-internal", dest="copy_as_internal", action="store_const", const=True)
    choice.add_argument("--copy-as-external", dest="copy_as_internal", action="store_const", const=False)

    groups = sub.add_parser("groups", help="user groups: import, report, clean-up").add_subparsers(
        dest="groups_command", required=True)
    imported = job(groups.add_parser("import", help="create or update user groups from a CSV file: code, "
                                     "description, then policy (field=value;...) or a column per policy field"),
                   cmd_groups_import)
    imported.add_argument("file")
    imported.add_argument("--encoding", default="utf-8", help="CSV encoding (default utf-8)")
    report = groups.add_parser("report", help="users, active users and last activity per group")
    report.add_argument("--json", action="store_true")
    report.add_argument("--today", type=dt.date.fromisoformat, default=None, help=argparse_hidden())
    report.add_argument("--operator", default=None)
    report.set_defaults(func=cmd_groups_report)
    move = job(groups.add_parser("move", help="move every user of a group to another"), cmd_groups_move)
    move.add_argument("from_group")
    move.add_argument("to_group")
    remove = job(groups.add_parser("remove", help="remove an unused group"), cmd_groups_remove)
    remove.add_argument("code")

    items = sub.add_parser("items", help="items patrons borrow: the items feed").add_subparsers(
        dest="items_command", required=True)
    items_import = items.add_parser("import", help="create or update items from a CSV file (docs/feed.md, "
                                    "Items feed); a malformed row is refused with its line, the rest loaded")
    items_import.add_argument("file")
    items_import.add_argument("--encoding", default="utf-8", help="CSV encoding (default utf-8)")
    items_import.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
    items_import.set_defaults(func=cmd_items_import)

    calendar = sub.add_parser("calendar", help="the library's closed days (due dates move off them)"
                              ).add_subparsers(dest="calendar_command", required=True)
    for name, text in (("close", "mark a day closed"), ("open", "open a closed day again")):
        day = calendar.add_parser(name, help=text)
        day.add_argument("day", type=dt.date.fromisoformat, help="YYYY-MM-DD")
        day.add_argument("--library", default="", help="a library code (default: every library)")
        day.add_argument("--description", default="")
        day.set_defaults(func=cmd_calendar)
    listed = calendar.add_parser("list", help="closed days from today on")
    listed.add_argument("--today", type=dt.date.fromisoformat, default=None, help=argparse_hidden())
    listed.set_defaults(func=cmd_calendar)

    anonymise = job(sub.add_parser("anonymise", help="unlink returned loans from their patrons"), cmd_anonymise)
    anonymise.add_argument("--days", type=int, default=None, help="days after return (default [feed] "
                           "anonymise_after_days, 60)")

    jobs = sub.add_parser("jobs", help="stored job reports").add_subparsers(dest="jobs_command", required=True)
    listing = jobs.add_parser("list")
    listing.add_argument("--job")
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(func=cmd_jobs_list)
    show = jobs.add_parser("show")
    show.add_argument("id", type=int)
    show.set_defaults(func=cmd_jobs_show)


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


def _open():
    from library_kiosk.central.store import schema

    config = settings.load()
    db = schema.init(config["central"]["database_url"])
    db.connect(reuse_if_open=True)
    return config, db


def _operator(args) -> str:
    return args.operator or os.environ.get("KIOSK_OPERATOR") or getpass.getuser()


def _today(args) -> dt.date:
    return args.today or clock.today()


def progress_printer(unit: str = "") -> Callable[..., None]:
    """A ``progress(done, total, phase="")`` for a long job at the command line: one line on standard error,
    rewritten in place ("  patrons: 1,000 of 2,000", or "  1,000 / 2,000" with no unit), and each later phase
    (the feed's "Preparing kiosk documents") on a line of its own. ``kiosk demo load`` uses it too."""
    shown = {"phase": ""}

    def progress(done: int, total: int, phase: str = "") -> None:
        if phase != shown["phase"]:
            shown["phase"] = phase
            print(file=sys.stderr)
        label = phase or unit
        line = f"{label}: {done:,} of {total:,}" if label else f"{done:,} / {total:,}"
        print(f"\r  {line}", end="", file=sys.stderr, flush=True)
    return progress


_progress = progress_printer()  # the admin jobs' progress


def _print(report, limit: int = 20) -> None:
    print(file=sys.stderr)
    print(f"[job {report.run_id}] {report.summary()}")
    for key, items in report.details.items():
        shown = items[:limit]
        print(f"  {key}:")
        for item in shown:
            print(f"    {json.dumps(item, ensure_ascii=False)}")
        if report.counts.get(key, len(items)) > len(shown):
            print(f"    ... {report.counts.get(key, len(items)) - len(shown):,} more (kiosk admin jobs show "
                  f"{report.run_id})")


def _run(args, call) -> int:
    """A dry run and its report; then, unless --dry-run, confirmation and the real run."""
    _open()
    dry = call(dry_run=True)
    _print(dry)
    if dry.status != "done":
        return 1
    if args.dry_run:
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            print("not confirmed (no terminal): run again with --yes", file=sys.stderr)
            return 1
        if input("Run it for real? [y/N] ").strip().lower() not in ("y", "yes"):
            print("cancelled")
            return 1
    real = call(dry_run=False)
    _print(real)
    return 0 if real.status == "done" else 1


def cmd_feed(args) -> int:
    from library_kiosk.central.store.jobs.feed import load_feed

    config = settings.load()["feed"]
    return _run(args, lambda dry_run: load_feed(
        args.file, fmt=args.format, source=args.source, operator=_operator(args), today=_today(args),
        full=args.full, dry_run=dry_run, group_mapping=config["user_groups"],
        missing_purge_days=config["missing_purge_days"], max_deactivate_share=config["max_deactivate_share"],
        encoding=args.encoding, progress=_progress, create_groups=config["create_groups"],
        group_policy=config["default_group_policy"]))


def cmd_purge(args) -> int:
    from library_kiosk.central.store.jobs.purge import purge_users

    return _run(args, lambda dry_run: purge_users(
        operator=_operator(args), today=_today(args), grace_days=args.grace_days, record_type=args.record_type,
        user_group=args.user_group, max_owed=args.max_owed, dry_run=dry_run, progress=_progress))


def cmd_waive(args) -> int:
    from library_kiosk.central.store.jobs.waive import waive_fines

    return _run(args, lambda dry_run: waive_fines(
        max_threshold=args.max_threshold, reason=args.reason, comment=args.comment, operator=_operator(args),
        today=_today(args), exclude_overdue=args.exclude_overdue, user_group=args.user_group,
        fee_type=args.fee_type, dry_run=dry_run, progress=_progress))


def cmd_merge(args) -> int:
    from library_kiosk.central.store.jobs.merge import merge_users

    segments = [s.strip() for s in args.segments.split(",") if s.strip()]
    return _run(args, lambda dry_run: merge_users(
        duplicate=args.duplicate, keep=args.keep, operator=_operator(args), today=_today(args), segments=segments,
        copy_as_internal=args.copy_as_internal, dry_run=dry_run, progress=_progress))


def cmd_groups_import(args) -> int:
    from library_kiosk.central.store.jobs.groups import import_groups

    policy = settings.load()["feed"]["default_group_policy"]
    return _run(args, lambda dry_run: import_groups(args.file, operator=_operator(args), default_policy=policy,
                                                    dry_run=dry_run, encoding=args.encoding, today=_today(args)))


def cmd_items_import(args) -> int:
    """Load the items feed; exit 1 when a row was refused (the others are loaded) or the file is unreadable."""
    from library_kiosk.central.store import items

    _open()
    try:
        with open(args.file, encoding=args.encoding) as handle:
            report = items.import_csv(handle.read(), dry_run=args.dry_run)
    except (OSError, UnicodeDecodeError, items.FeedError) as exc:
        print(f"{args.file}: {exc}; nothing loaded", file=sys.stderr)
        return 1
    for line in report.lines():
        print(("(dry run) " if args.dry_run else "") + line if line.startswith("items") else line)
    return 1 if report.refused else 0


def cmd_calendar(args) -> int:
    from library_kiosk.central.store import items

    _open()
    if args.calendar_command == "list":
        start = args.today or clock.today()
        rows = items.ClosedDay.select().where(items.ClosedDay.day >= start).order_by(items.ClosedDay.day)
        for row in rows:
            print(f"{row.day}  {row.library or '(every library)'}  {row.description}")
        return 0
    changed = items.set_closed(args.day, args.library, args.description, closed=args.calendar_command == "close")
    where = args.library or "every library"
    print(f"{args.day} {'closed' if args.calendar_command == 'close' else 'open'} for {where}"
          + ("" if changed else " (already so)"))
    return 0


def cmd_groups_report(args) -> int:
    from library_kiosk.central.store.jobs.groups import group_report

    config, _db = _open()
    report = group_report(operator=_operator(args), today=_today(args), feed_mapping=config["feed"]["user_groups"])
    rows = report.listed("groups")
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    print(f"{'group':<8} {'users':>9} {'active':>9}  {'last activity':<13}  feed codes  description")
    for row in rows:
        print(f"{row['code']:<8} {row['users']:>9,} {row['active_users']:>9,}  {row['last_activity'] or '-':<13}  "
              f"{','.join(row['feed_codes']) or '-':<10}  {row['description']}")
    return 0


def cmd_groups_move(args) -> int:
    from library_kiosk.central.store.jobs.groups import move_group

    return _run(args, lambda dry_run: move_group(from_group=args.from_group, to_group=args.to_group,
                                                 operator=_operator(args), today=_today(args), dry_run=dry_run,
                                                 progress=_progress))


def cmd_groups_remove(args) -> int:
    from library_kiosk.central.store.jobs.groups import remove_group

    mapping = settings.load()["feed"]["user_groups"]
    return _run(args, lambda dry_run: remove_group(code=args.code, operator=_operator(args), feed_mapping=mapping,
                                                   today=_today(args), dry_run=dry_run))


def cmd_anonymise(args) -> int:
    from library_kiosk.central.store.jobs.anonymise import anonymise_loans

    days = args.days if args.days is not None else settings.load()["feed"]["anonymise_after_days"]
    return _run(args, lambda dry_run: anonymise_loans(operator=_operator(args), today=_today(args), after_days=days,
                                                      dry_run=dry_run, progress=_progress))


def cmd_jobs_list(args) -> int:
    from library_kiosk.central.store.jobs.report import latest_runs

    _open()
    for run in latest_runs(args.limit, args.job):
        counts = ", ".join(f"{k} {v}" for k, v in json.loads(run.counts).items())
        print(f"{run.id:>6}  {run.started:%Y-%m-%d %H:%M}  {run.job:<14} {'dry run' if run.dry_run else 'run':<7} "
              f"{run.status:<8} {run.operator:<12} {counts}")
    return 0


def cmd_jobs_show(args) -> int:
    from library_kiosk.central.store.jobs.report import get_run

    _open()
    run = get_run(args.id)
    if run is None:
        print(f"no job run {args.id}", file=sys.stderr)
        return 1
    print(json.dumps(run.as_dict(), ensure_ascii=False, indent=2))
    return 0
