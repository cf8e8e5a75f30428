"""User-group clean-up: a utilisation report, moving a group's users, removing an unused group.

Last activity of a group is the latest of: a loan made to the group (``Loan.user_group``,
which survives anonymisation), a request made by one of its users, a change to one
of its users' records (``User.updated``). A group is removed only when no user is
in it and the feed mapping (``[feed] user_groups`` in the settings) does not map
any source code to it.
"""
from __future__ import annotations

import datetime as dt

from peewee import fn

from library_kiosk.central.store import changes
from library_kiosk.central.store.db import database
from library_kiosk.central.store.jobs.common import _chunks, refresh_documents
from library_kiosk.central.store.jobs.report import JobRefused, JobReport, Progress, run_job
from library_kiosk.central.store.models import Loan, Request, User, UserGroup, _now


def _day(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return value.date() if isinstance(value, dt.datetime) else value


def utilisation(*, today: dt.date, feed_mapping: dict | None = None) -> list[dict]:
    """One row per group: users, active users, last activity, whether the feed maps to it."""
    mapping = feed_mapping or {}
    users = dict(User.select(User.user_group, fn.COUNT(User.id)).group_by(User.user_group).tuples())
    active = dict(User.select(User.user_group, fn.COUNT(User.id)).where(
        (User.status == "ACTIVE") & (User.expiry_date.is_null() | (User.expiry_date >= today)))
        .group_by(User.user_group).tuples())
    updated = dict(User.select(User.user_group, fn.MAX(User.updated)).group_by(User.user_group).tuples())
    loans = dict(Loan.select(Loan.user_group, fn.MAX(Loan.loan_date)).group_by(Loan.user_group).tuples())
    requests = dict(Request.select(User.user_group, fn.MAX(Request.request_date)).join(User)
                    .group_by(User.user_group).tuples())
    rows = []
    for group in UserGroup.select().order_by(UserGroup.code):
        dates = [d for d in (_day(updated.get(group.code)), _day(loans.get(group.code)),
                             _day(requests.get(group.code))) if d]
        rows.append({"code": group.code, "description": group.description, "users": users.get(group.code, 0),
                     "active_users": active.get(group.code, 0), "last_activity": max(dates) if dates else None,
                     "feed_codes": sorted(k for k, v in mapping.items() if v == group.code)})
    return rows


def group_report(*, operator: str, today: dt.date, feed_mapping: dict | None = None) -> JobReport:
    def body(report: JobReport) -> None:
        rows = utilisation(today=today, feed_mapping=feed_mapping)
        report.counts.update({"groups": len(rows), "unused": sum(1 for r in rows if not r["users"])})
        for row in rows:
            report.add("groups", row)

    return run_job("groups.report", {}, operator, True, body)


def move_group(*, from_group: str, to_group: str, operator: str, today: dt.date | None = None,
               dry_run: bool = False, batch_size: int = 1000, progress: Progress | None = None) -> JobReport:
    """Move every user of ``from_group`` to ``to_group`` (a Change per user; their kiosk documents are rebuilt in
    the sync read model at the end of the run)."""
    parameters = {"from_group": from_group, "to_group": to_group}

    def body(report: JobReport) -> None:
        if from_group == to_group:
            raise JobRefused("the groups are the same")
        for code in (from_group, to_group):
            if not UserGroup.select().where(UserGroup.code == code).exists():
                raise JobRefused(f"no user group {code!r}")
        users = list(User.select(User.id, User.primary_id).where(User.user_group == from_group)
                     .order_by(User.id).tuples())
        report.counts["moved"] = 0
        done = 0
        for batch in _chunks(users, batch_size):
            for _uid, pid in batch:
                report.add("moved", pid)
            if not dry_run:
                with database.atomic():
                    User.update(user_group=to_group, updated=_now()).where(
                        User.id.in_([uid for uid, _pid in batch])).execute()
                    changes.record_many([pid for _uid, pid in batch])
            done += len(batch)
            if progress:
                progress(done, len(users))
        if not dry_run:
            refresh_documents([pid for _uid, pid in users])  # committed: the kiosks' documents, ahead of their sync

    return run_job("groups.move", parameters, operator, dry_run, body)


def remove_group(*, code: str, operator: str, feed_mapping: dict | None = None, today: dt.date | None = None,
                 dry_run: bool = False, progress: Progress | None = None) -> JobReport:
    """Delete an unused user group; refused while a user or the feed mapping uses it."""
    mapping = feed_mapping or {}

    def body(report: JobReport) -> None:
        with database.atomic():
            if not UserGroup.select().where(UserGroup.code == code).exists():
                raise JobRefused(f"no user group {code!r} (already removed?)")
            users = User.select().where(User.user_group == code).count()
            if users:
                raise JobRefused(f"{users:,} users are still in group {code}; move them first")
            codes = sorted(k for k, v in mapping.items() if v == code)
            if codes:
                raise JobRefused(f"the feed mapping still maps {', '.join(codes)} to group {code}; "
                                 f"change [feed] user_groups first")
            report.add("removed", code)
            if not dry_run:
                UserGroup.delete().where(UserGroup.code == code).execute()
        if progress:
            progress(1, 1)

    return run_job("groups.remove", {"code": code, "feed_mapping": mapping}, operator, dry_run, body)
