"""Checkouts and returns whose outcome is unknown, settled in the background (issue 18).

``cache.checkout_through`` / ``checkin_through`` read a lost answer back at once. When that read-back fails too,
the patron is told ``unconfirmed`` (a return: the item goes to the desk), staff see a conflict
(``checkout_to_be_checked`` / ``checkin_to_be_checked``, keyed by the operation's key), and a
``PendingCirculation`` row keeps what settling needs (``cache._circulation_conflict``). ``settle`` runs beside the
renewals' background step (after a kiosk's heartbeat, at most once a minute per process: api/sync_api.py) and
reads each one back again:

- a checkout: the patron's loans. The item among them: lent; the patron's account is stored as the library
  system has it (the loan, its due date, a change kiosks pull), the conflict dealt with "checked: lent". Not among
  them: "checked: not lent". Never lent again from here: the patron has left. A lent item's answer under its key
  becomes the loan (the same key sent again is told it was lent).
- a return: ``item_on_loan``. Not on loan: "checked: returned" (our copy of the loan closed). Still on loan: known
  not returned, so the return is sent once more with its key; returned: "checked: returned, sent again". Refused
  (or the item unknown to the library system): the conflict stays open for staff with what was found, and nothing
  is sent again.

A read-back that fails, or an answer lost again, leaves the row and its conflict for the next round; the library
system unreachable ends the round. A conflict staff marked as dealt with first is not checked again.
"""
from __future__ import annotations

import datetime as dt
import logging

from library_kiosk.central.store import lending
from library_kiosk.central.store.db import database
from library_kiosk.central.store.devices import SyncConflict, SyncConflictDealt
from library_kiosk.central.store.models import _now
from library_kiosk.central.upstream.base import OutcomeUnknown, Upstream, UpstreamError, UpstreamUnavailable
from library_kiosk.central.upstream.cache import store_account
from library_kiosk.central.upstream.models import PendingCirculation

log = logging.getLogger(__name__)
OUTCOMES = ("lent", "not_lent", "returned", "sent_again", "refused")
DEALT = {"lent": "checked: lent", "not_lent": "checked: not lent", "returned": "checked: returned",
         "sent_again": "checked: returned, sent again"}
STALE_CLAIM = dt.timedelta(minutes=10)  # a claim older than this (its process died) may be taken again


def _open():
    stale = _now() - STALE_CLAIM
    return ((PendingCirculation.status == "to_check")
            | ((PendingCirculation.status == "checking") & (PendingCirculation.checked < stale)))


def _claim(row: PendingCirculation) -> bool:
    """Take ``row`` for this round, in one UPDATE: False when another process has it."""
    return PendingCirculation.update(status="checking", checked=_now()).where(
        (PendingCirculation.id == row.id) & _open()).execute() == 1


def settle(upstream: Upstream, today: dt.date, limit: int = 100) -> dict[str, int]:
    """Read back the checkouts and returns to be checked, oldest first: how many were found each way, and
    ``open``: how many are left for the next round."""
    counts = dict.fromkeys((*OUTCOMES, "open"), 0)
    if not database.table_exists(PendingCirculation._meta.table_name):
        return counts  # nothing was ever left to check here
    rows = list(PendingCirculation.select().where(_open()).order_by(PendingCirculation.id).limit(limit))
    for index, row in enumerate(rows):
        if SyncConflictDealt.select().where(SyncConflictDealt.conflict == row.conflict_id).exists():
            PendingCirculation.update(status="staff").where(PendingCirculation.id == row.id).execute()
            continue
        if not _claim(row):
            continue
        try:
            found = _checkout(upstream, row, today) if row.op_type == "checkout" else _checkin(upstream, row, today)
        except UpstreamUnavailable as exc:
            PendingCirculation.update(status="to_check").where(PendingCirculation.id == row.id).execute()
            log.warning("checkouts and returns to check: the library system cannot be reached: %s", exc.message)
            counts["open"] += len(rows) - index
            break
        if found is None:
            PendingCirculation.update(status="to_check").where(PendingCirculation.id == row.id).execute()
            counts["open"] += 1
            continue
        counts[found] += 1
    return counts


_NOT_READ = object()


def _read_back(read, row: PendingCirculation, what: str):
    """``read()``'s answer, or ``_NOT_READ`` when the library system failed to answer it (logged; the row is left
    for the next round). ``UpstreamUnavailable`` propagates: the round ends."""
    try:
        return read()
    except UpstreamUnavailable:
        raise
    except UpstreamError as exc:
        log.warning("%s %s to check: %s not read back: %s", row.op_type, row.key, what, exc.message)
        return _NOT_READ


def _checkout(upstream: Upstream, row: PendingCirculation, today: dt.date) -> str | None:
    """``lent`` or ``not_lent`` (settled), or None (not read back: left for the next round)."""
    fetched = _read_back(lambda: upstream.fetch(row.primary_id, today), row, row.primary_id)
    if fetched is _NOT_READ:
        return None
    if fetched is None:
        log.warning("checkout %s to check: the library system does not know %s", row.key, row.primary_id)
        return None
    lent = next((loan for loan in fetched.account.loans if loan.item_barcode == row.item_barcode), None)
    found = "lent" if lent else "not_lent"
    with database.atomic():
        try:
            store_account(fetched, today)  # the loan, as the library system holds it, and a change for kiosks
        except UpstreamError as exc:
            log.warning("checkout %s to check: %s", row.key, exc.message)
            return None
        if lent is not None:  # the key's answer, given again to a client that sends it again
            lending.settled_as_lent(row.key, row.item_barcode, lent.due_date, lent.title)
        _done(row, found)
    return found


def _checkin(upstream: Upstream, row: PendingCirculation, today: dt.date) -> str | None:
    """``returned``, ``sent_again`` or ``refused`` (settled), or None (left for the next round)."""
    on_loan = _read_back(lambda: upstream.item_on_loan(row.item_barcode, today), row, row.item_barcode)
    if on_loan is _NOT_READ:
        return None
    if on_loan is None:
        return _refused(row, "unknown_item", "the library system does not know this item")
    if on_loan:
        try:
            outcome = upstream.checkin(row.item_barcode, today, row.key, row.library)
        except UpstreamUnavailable:
            raise
        except OutcomeUnknown as exc:
            log.warning("return %s sent again, its answer lost too: %s", row.key, exc.message)
            return None  # read back again next round: never sent twice blindly
        except UpstreamError as exc:
            return _refused(row, exc.code, f"still on loan, and sent again it failed: {exc.message}")
        if not outcome.returned:
            said = f" ({outcome.upstream_message})" if outcome.upstream_message else ""
            return _refused(row, outcome.reason, f"still on loan, and sent again it was refused: "
                                                 f"{outcome.reason}{said}")
    found = "sent_again" if on_loan else "returned"
    with database.atomic():
        lending.close_loans(row.item_barcode, today)
        _done(row, found)
    return found


def _done(row: PendingCirculation, found: str) -> None:
    PendingCirculation.update(status=found, reason="checked").where(PendingCirculation.id == row.id).execute()
    SyncConflictDealt.get_or_create(conflict=row.conflict_id, defaults={"operator": DEALT[found]})


def _refused(row: PendingCirculation, reason: str, what: str) -> str:
    """The return is not settled by checking: the conflict stays open for staff, saying what was found."""
    with database.atomic():
        PendingCirculation.update(status="refused", reason=(reason or "refused")[:60]).where(
            PendingCirculation.id == row.id).execute()
        conflict = SyncConflict.get_by_id(row.conflict_id)
        SyncConflict.update(detail=f"{conflict.detail} [checked: {what}]").where(
            SyncConflict.id == conflict.id).execute()
    return "refused"
