"""Purge user records whose purge date has passed (Alma's Purge User Records job).

A user is purged when ``purge_date + grace_days < today`` (the grace period spares
the record through its last day), optionally only of one record type and one
user group. Users without a purge date are never purged. Users who owe more than
``max_owed`` (when given) and users with loans still out are spared and listed.
Purging waives the user's open fees first (a WAIVE transaction each, reason
``reason``, balance 0, CLOSED), then deletes the user; the database's ON DELETE
CASCADE then removes the user's fees, their transactions, requests and segments,
and returned loans lose their link to the user (kept, countable by user group).
The waived fees therefore live on in the job report (fee id, type, amount per
purged user), which is the lasting record. Kiosks get a ``delete`` change per user, and
an ``upsert`` for each patron with an open loan of an item a purged user had requested
(the loan is no longer "requested by another patron"); the purged users' documents
leave the sync read model at the end of the run, and those patrons' are rebuilt.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from library_kiosk.central.store import changes
from library_kiosk.central.store.accounts import OPEN_REQUEST_STATUSES
from library_kiosk.central.store.db import database
from library_kiosk.central.store.jobs.common import (
    OPEN_FEE,
    in_batches,
    money,
    owed_by,
    refresh_documents,
    set_aside,
    waived_or_listed,
    with_open_loans,
)
from library_kiosk.central.store.jobs.report import JobRefused, JobReport, Progress, run_job
from library_kiosk.central.store.models import Fee, Request, User

RECORD_TYPES = ("STAFF", "PUBLIC", "CONTACT")


def purge_users(*, operator: str, today: dt.date, grace_days: int = 0, record_type: str | None = None,
                user_group: str | None = None, max_owed: Decimal | str | None = None, dry_run: bool = False,
                reason: str = "User record purged", batch_size: int = 500,
                progress: Progress | None = None) -> JobReport:
    parameters = {"grace_days": grace_days, "record_type": record_type, "user_group": user_group,
                  "max_owed": max_owed, "reason": reason}

    def body(report: JobReport) -> None:
        limit = _owed_limit(grace_days, record_type, max_owed)
        candidates = _candidates(today, int(grace_days), record_type, user_group)
        report.counts.update({"candidates": len(candidates), "purged": 0, "spared_owing": 0, "spared_loans": 0,
                              "fees_waived": 0})
        purged = []
        holders = set()  # patrons with a loan of an item a purged patron had requested
        for batch in in_batches(candidates, batch_size, progress):
            purge = _to_purge(report, batch, limit)
            with database.atomic():
                _waive_their_fees(report, purge, reason, dry_run)
                if purge and not dry_run:
                    holders.update(_delete(purge))
            if not dry_run:
                purged += [pid for _u, pid, _a in purge]
        # committed: their stored kiosk documents go now, not at the next sync (and the holders' are rebuilt)
        refresh_documents(purged + sorted(holders - set(purged)))

    return run_job("purge", parameters, operator, dry_run, body)


def _owed_limit(grace_days, record_type, max_owed) -> Decimal | None:
    """Refuse parameters that make no sense before selecting anything; returns the amount owed threshold."""
    if grace_days is None or int(grace_days) < 0:
        raise JobRefused("the grace period must be 0 or more days")
    if record_type and record_type not in RECORD_TYPES:
        raise JobRefused(f"unknown record type {record_type!r} (one of {', '.join(RECORD_TYPES)})")
    limit = money(max_owed) if max_owed not in (None, "") else None
    if limit is not None and limit < 0:
        raise JobRefused("the amount owed threshold must not be negative")
    return limit


def _candidates(today: dt.date, grace_days: int, record_type: str | None,
                user_group: str | None) -> list[tuple[int, str]]:
    """(id, primary id) of the users past their purge date and grace period, in id order."""
    cutoff = today - dt.timedelta(days=grace_days)  # purge_date < cutoff  <=>  purge_date + grace < today
    query = User.select(User.id, User.primary_id).where(User.purge_date.is_null(False) & (User.purge_date < cutoff))
    if record_type:
        query = query.where(User.record_type == record_type)
    if user_group:
        query = query.where(User.user_group == user_group)
    return list(query.order_by(User.id).tuples())


def _to_purge(report: JobReport, batch: list[tuple[int, str]], limit: Decimal | None) -> list[tuple]:
    """The batch's users to purge, as (id, primary id, amount owed); the spared ones are listed in the report."""
    ids = [uid for uid, _pid in batch]
    owed = owed_by(ids)
    loans = with_open_loans(ids)
    purge = []
    for uid, pid in batch:
        amount = owed.get(uid, Decimal("0.00"))
        if not set_aside(report, pid, amount, spared_loans=uid in loans,
                         spared_owing=limit is not None and amount > limit):
            purge.append((uid, pid, amount))
    return purge


def _waive_their_fees(report: JobReport, purge: list[tuple], reason: str, dry_run: bool) -> None:
    """Waive the open fees of the users to purge (a dry run only lists them) and list the users with them: the
    report is the lasting record of those fees, which go with their users."""
    by_user = {}
    for fee in _open_fees([uid for uid, _p, _a in purge]):
        by_user.setdefault(fee.user_id, []).append(fee)
    for uid, pid, amount in purge:
        waived = waived_or_listed(by_user.get(uid, []), reason, report.operator, dry_run)
        report.count("fees_waived", len(waived))
        report.add("purged", {"primary_id": pid, "owed": amount, "fees_waived": waived})


def _open_fees(user_ids: list[int]) -> list[Fee]:
    """The open fees with a balance of these users (no query for none)."""
    if not user_ids:
        return []
    return list(Fee.select().where(Fee.user.in_(user_ids) & OPEN_FEE & (Fee.balance > 0)))


def _delete(purge: list[tuple]) -> list[str]:
    """Delete the users (the database cascades to their fees, requests and segments) and tell the kiosks; returns
    the patrons whose loans were of an item a purged user had requested (no longer "requested by another")."""
    purge_ids = [uid for uid, _p, _a in purge]
    items = [code for (code,) in Request.select(Request.item_barcode).where(
        Request.user.in_(purge_ids) & (Request.item_barcode != "")
        & Request.status.in_(OPEN_REQUEST_STATUSES)).distinct().tuples()]
    User.delete().where(User.id.in_(purge_ids)).execute()
    changes.record_many([pid for _u, pid, _a in purge], kind="delete")
    return changes.record_item_holders(items)
