"""Queries the user-management jobs share."""
from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import threading
from collections.abc import Iterator
from decimal import Decimal

import peewee as pw
from peewee import fn

from library_kiosk.central.store.jobs.report import JobReport, Progress
from library_kiosk.central.store.models import Fee, FeeTransaction, Loan, _now

log = logging.getLogger(__name__)
OPEN_FEE = Fee.status != "CLOSED"
_gc_lock = threading.Lock()
_gc_pauses = {"count": 0, "was_enabled": False}


@contextlib.contextmanager
def paused_gc():
    """Pause Python's cyclic garbage collector while a bulk job runs (nested and thread-safe).

    A feed load allocates millions of short-lived containers (parsed rows, batches) and
    keeps a growing working set (the primary ids and identifiers seen so far); the cyclic
    collector's full passes over that working set took about 30% of a load's time. The
    loader makes no reference cycles of its own, reference counting still frees everything
    as usual, and the collector is switched back on (if it was on) when the last paused
    job ends."""
    with _gc_lock:
        if _gc_pauses["count"] == 0:
            _gc_pauses["was_enabled"] = gc.isenabled()
            gc.disable()
        _gc_pauses["count"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses["count"] -= 1
            if _gc_pauses["count"] == 0 and _gc_pauses["was_enabled"]:
                gc.enable()


def refresh_documents(primary_ids, progress=None) -> int | None:
    """After a job's writes have committed: build the kiosk documents of the patrons it changed (or remove those
    of patrons it deleted) in the sync read model (``library_kiosk.central.store.documents.refresh_patrons``), so
    the first kiosk sync streams them instead of building them. Returns how many patrons were refreshed, or
    ``None`` if the database refused (the job's writes stand: the first sync builds the documents, as it would
    without this step)."""
    from library_kiosk.central.store import documents

    try:
        return documents.refresh_patrons(primary_ids, progress=progress)
    except pw.OperationalError as exc:  # e.g. SQLite busy: a lost head start, never a wrong document
        log.warning("kiosk documents not prepared: %s", exc)
        return None


def in_batches(items: list, size: int, progress: Progress | None) -> Iterator[list]:
    """``items`` in batches of ``size``, as every bulk job works through its records; once the caller has handled
    a batch, ``progress(done, total)`` counts its items (so a job reports only what it has done)."""
    done = 0
    for batch in _chunks(items, size):
        yield batch
        done += len(batch)
        if progress:
            progress(done, len(items))


def one_by_one(steps: list, progress: Progress | None) -> Iterator:
    """Each of ``steps``, with ``progress(done, total)`` once the caller has handled it: a job of a few big steps
    reports them as ``in_batches`` reports records."""
    for [step] in in_batches(steps, 1, progress):
        yield step


def set_aside(report: JobReport, primary_id: str, owed: Decimal, **reasons: bool) -> bool:
    """List a user the job leaves alone, with what they owe, under the first of ``reasons`` (in the order given)
    that holds; False if none holds. The operator reads from the report why each user was left alone."""
    for key, holds in reasons.items():
        if holds:
            report.add(key, {"primary_id": primary_id, "owed": owed})
            return True
    return False


def owed_by(user_ids) -> dict[int, Decimal]:
    """Each user's open balance (fees not CLOSED)."""
    found = {}
    for part in _chunks(user_ids):
        query = (Fee.select(Fee.user, fn.SUM(Fee.balance)).where(Fee.user.in_(part) & OPEN_FEE)
                 .group_by(Fee.user))
        for uid, total in query.tuples():
            found[uid] = Decimal(total or 0).quantize(Decimal("0.01"))
    return found


def with_open_loans(user_ids) -> set[int]:
    found = set()
    for part in _chunks(user_ids):
        found.update(uid for (uid,) in Loan.select(Loan.user).where(Loan.user.in_(part) & Loan.still_out())
                     .distinct().tuples())
    return found


def with_overdue_loans(user_ids, today: dt.date) -> set[int]:
    found = set()
    for part in _chunks(user_ids):
        found.update(uid for (uid,) in Loan.select(Loan.user).where(
            Loan.user.in_(part) & Loan.still_out() & (Loan.due_date < today)).distinct().tuples())
    return found


def waive_fees(fees: list[Fee], reason: str, operator: str) -> list[dict]:
    """Waive each fee's balance: a WAIVE transaction, balance 0, status CLOSED. Returns what was waived."""
    waived = []
    now = _now()
    rows = []
    for fee in fees:
        rows.append({"fee": fee.id, "transaction_type": "WAIVE", "amount": fee.balance, "reason": reason[:200],
                     "operator": operator[:100], "created": now})
        waived.append(fee_item(fee))
    for start in range(0, len(rows), 500):
        FeeTransaction.insert_many(rows[start:start + 500]).execute()
    for part in _chunks([fee.id for fee in fees]):
        Fee.update(balance=Decimal("0.00"), status="CLOSED").where(Fee.id.in_(part)).execute()
    return waived


def waived_or_listed(fees: list[Fee], reason: str, operator: str, dry_run: bool) -> list[dict]:
    """The report's items for ``fees``: waived by a real run (``waive_fees``), only listed by a dry run."""
    if dry_run:
        return [fee_item(fee) for fee in fees]
    return waive_fees(fees, reason, operator)


def fee_item(fee: Fee) -> dict:
    return {"fee_id": fee.id, "fee_type": fee.fee_type, "amount": str(money(fee.balance))}


def _chunks(items, size: int = 1000):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))
