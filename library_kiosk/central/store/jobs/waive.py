"""Bulk fine waiving (Alma's Bulk Fine Waiving job).

In scope: open fees (not CLOSED, balance above 0), of ``fee_type`` when given, of
users in ``user_group`` when given. A user whose total of those fees is above
``max_threshold`` is skipped entirely (equal to it is waived); with
``exclude_overdue`` a user with an overdue loan (not returned, due before today) is
skipped. Each waived fee gets a WAIVE ``FeeTransaction`` (amount, reason, operator),
balance 0 and status CLOSED, and the user a Change so kiosks show it (their kiosk
documents are rebuilt in the sync read model at the end of the run).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from library_kiosk.central.store import changes
from library_kiosk.central.store.db import database
from library_kiosk.central.store.jobs.common import (
    OPEN_FEE,
    in_batches,
    money,
    refresh_documents,
    set_aside,
    waived_or_listed,
    with_overdue_loans,
)
from library_kiosk.central.store.jobs.report import JobRefused, JobReport, Progress, run_job
from library_kiosk.central.store.models import Fee, User


def waive_fines(*, max_threshold: Decimal | str, reason: str, operator: str, today: dt.date,
                exclude_overdue: bool = False, user_group: str | None = None, fee_type: str | None = None,
                comment: str = "", dry_run: bool = False, batch_size: int = 500,
                progress: Progress | None = None) -> JobReport:
    parameters = {"max_threshold": max_threshold, "reason": reason, "exclude_overdue": exclude_overdue,
                  "user_group": user_group, "fee_type": fee_type, "comment": comment}

    def body(report: JobReport) -> None:
        limit = _threshold(max_threshold, reason)
        text = reason.strip() + (f" - {comment.strip()}" if (comment or "").strip() else "")
        by_user = _fees_by_user(fee_type, user_group)
        report.counts.update({"users": len(by_user), "users_waived": 0, "fees_waived": 0, "amount_waived": "0.00",
                              "skipped_over_threshold": 0, "skipped_overdue": 0})
        overdue = with_overdue_loans([uid for uid, _pid in by_user], today) if exclude_overdue else set()
        total = Decimal("0.00")
        waived_users = []
        for batch in in_batches(list(by_user.items()), batch_size, progress):
            with database.atomic():
                touched, amount = _waive_batch(report, batch, limit, overdue, text, dry_run)
            total += amount
            if not dry_run:
                waived_users += touched
        report.counts["amount_waived"] = str(total)
        refresh_documents(waived_users)  # committed: the kiosks' documents, ahead of their sync

    return run_job("waive", parameters, operator, dry_run, body)


def _threshold(max_threshold, reason: str) -> Decimal:
    """Refuse a missing, unreadable or negative threshold, or no reason, before selecting anything."""
    if max_threshold in (None, ""):
        raise JobRefused("a maximum threshold is required")
    try:
        limit = money(max_threshold)
    except Exception:
        raise JobRefused(f"the maximum threshold {max_threshold!r} is not an amount") from None
    if limit < 0:
        raise JobRefused("the maximum threshold must not be negative")
    if not (reason or "").strip():
        raise JobRefused("a waiving reason is required")
    return limit


def _fees_by_user(fee_type: str | None, user_group: str | None) -> dict[tuple[int, str], list[Fee]]:
    """The fees in scope (open, with a balance), by (user id, primary id), in user and fee order."""
    query = (Fee.select(Fee, User.primary_id).join(User).where(OPEN_FEE & (Fee.balance > 0))
             .order_by(Fee.user, Fee.id).objects())
    if fee_type:
        query = query.where(Fee.fee_type == fee_type)
    if user_group:
        query = query.where(User.user_group == user_group)
    by_user = {}
    for fee in query:
        by_user.setdefault((fee.user_id, fee.primary_id), []).append(fee)
    return by_user


def _waive_batch(report: JobReport, batch: list, limit: Decimal, overdue: set[int], text: str,
                 dry_run: bool) -> tuple[list[str], Decimal]:
    """Waive the fees of the batch's users in scope (a dry run only lists them) and tell the kiosks; returns
    the users waived and the amount."""
    touched = []
    amount = Decimal("0.00")
    for (uid, pid), fees in batch:
        owed = money(sum((f.balance for f in fees), Decimal("0.00")))
        if set_aside(report, pid, owed, skipped_over_threshold=owed > limit, skipped_overdue=uid in overdue):
            continue
        waived = waived_or_listed(fees, text, report.operator, dry_run)
        report.count("fees_waived", len(fees))
        report.add("users_waived", {"primary_id": pid, "amount": owed, "fees": waived})
        amount += owed
        touched.append(pid)
    if touched and not dry_run:
        changes.record_many(touched)
    return touched, amount

