"""Sync conflicts (issue 5), for the circulation desk and up: operations from kiosks the
central store refused, or decided differently from what the kiosk had told the patron (a
pending offline renewal refused at replay: the patron was sent a RenewalRefusedLetter).
Rows come from ``store.devices.SyncConflict``, newest first, each linking to the patron.
Staff mark a conflict as dealt with (who and when are kept, and audited): it leaves the open
list, and ``?dealt=1`` lists the ones dealt with.
"""
from __future__ import annotations

import re

from flask import Blueprint, request, url_for
from htmx_flask import request as htmx_request

from library_kiosk.central.store import devices
from library_kiosk.central.store.devices import SyncConflict
from library_kiosk.central.store.items import Item
from library_kiosk.central.store.models import Loan, User
from provisioning.views import done, operator, or_404, render, requires

bp = Blueprint("conflicts", __name__, url_prefix="/conflicts")
SHOWN = 200
# store/sync_ops.py writes "loan ID (TITLE): WHY [the kiosk said: renewed until DATE]".
DETAIL = re.compile(r"^loan (?P<loan>\d+) \((?P<title>.*?)\): (?P<why>.*?)(?: \[the kiosk said: (?P<promised>.*)\])?$",
                    re.S)
# upstream/cache.py writes "item BARCODE: WHY" for a checkout or return whose answer was lost and not read back.
ITEM_DETAIL = re.compile(r"^item (?P<barcode>.+?): (?P<why>the (?:checkout|return)'s answer .*)$", re.S)
TO_BE_CHECKED = {"checkout_to_be_checked": "lent, to be confirmed",
                 "checkin_to_be_checked": "returned, to be confirmed"}
REASONS = {"renewal_refused_at_replay": "Renewal refused at replay", "patron_not_found": "Patron no longer exists",
           "unknown_letter_type": "Unknown letter type", "unknown_reason": "Unknown call reason",
           "no_visit": "Not made while the patron was at that kiosk (nor while it was offline)",
           "renewal_to_be_checked": "Renewal sent to the library system, its answer lost: being checked",
           "checkout_to_be_checked": "Checkout sent to the library system, its answer lost: being checked",
           "checkin_to_be_checked": "Return sent to the library system, its answer lost: being checked",
           "checkout_refused_at_replay": "Item lent offline, refused at replay"}
LETTERS = {"sent": "sent", "queued": "queued (goes out shortly)", "failed": "not sent (failed)", "none": "not sent",
           "": "no letter"}
OPERATIONS = {"renew": "renewal", "lockout": "card lock", "call_staff": "call for staff", "send_letter": "letter",
              "checkout": "checkout", "checkin": "return"}


def describe(conflict: SyncConflict, loans: dict, names: dict, dealt=None, titles: dict | None = None) -> dict:
    """One conflict as the page shows it; ``titles``: item barcode -> title, for a checkout or return's item."""
    parsed = DETAIL.match(conflict.detail or "")
    item, why, promised = "", conflict.detail, ""
    if parsed:
        loan = loans.get(int(parsed["loan"]))
        title = parsed["title"] or (loan.title if loan else "")
        item = f"{title} ({loan.item_barcode})" if loan else title or f"loan {parsed['loan']}"
        why, promised = parsed["why"], parsed["promised"] or ""
    elif conflict.reason in TO_BE_CHECKED and (by_item := ITEM_DETAIL.match(conflict.detail or "")):
        barcode, title = by_item["barcode"], (titles or {}).get(by_item["barcode"], "")
        item, why = f"{title} ({barcode})" if title else barcode, by_item["why"]
    if not promised and conflict.reason == "renewal_refused_at_replay":
        promised = "renewed"
    if not promised and conflict.reason == "renewal_to_be_checked":
        promised = "sent, to be confirmed"
    promised = promised or TO_BE_CHECKED.get(conflict.reason, "")
    return {"id": conflict.id, "created": conflict.created, "device": conflict.device,
            "operation": OPERATIONS.get(conflict.op_type, conflict.op_type), "primary_id": conflict.primary_id,
            "patron": names.get(conflict.primary_id), "item": item, "promised": promised or "nothing (refused)",
            "reason": REASONS.get(conflict.reason, conflict.reason), "why": why,
            "letter": LETTERS.get(conflict.letter_status, conflict.letter_status),
            "dealt_by": dealt.operator if dealt else "", "dealt_at": dealt.created if dealt else None}


def conflict_rows(limit: int = SHOWN, dealt_with: bool = False, only: int | None = None) -> list[dict]:
    if only is not None:
        conflict = SyncConflict.get_or_none(SyncConflict.id == only)
        pairs = [(conflict, devices.SyncConflictDealt.get_or_none(devices.SyncConflictDealt.conflict == only))
                 ] if conflict else []
    else:
        pairs = devices.conflict_query(dealt_with, limit)
    found = [c for c, _ in pairs]
    ids = {c.primary_id for c in found if c.primary_id}
    names = {u.primary_id: f"{u.first_name} {u.last_name}".strip()
             for u in User.select(User.primary_id, User.first_name, User.last_name).where(User.primary_id.in_(ids))
             } if ids else {}
    loan_ids = {int(m["loan"]) for m in (DETAIL.match(c.detail or "") for c in found) if m}
    loans = {loan.id: loan for loan in Loan.select().where(Loan.id.in_(loan_ids))} if loan_ids else {}
    barcodes = {m["barcode"] for m in (ITEM_DETAIL.match(c.detail or "") for c in found
                                       if c.reason in TO_BE_CHECKED) if m}
    return [describe(c, loans, names, dealt, item_titles(barcodes)) for c, dealt in pairs]


def item_titles(barcodes: set[str]) -> dict[str, str]:
    """The titles known here of these items: the item's record, else the latest copy of a loan of it."""
    if not barcodes:
        return {}
    found = {barcode: title for barcode, title in Loan.select(Loan.item_barcode, Loan.title).where(
        Loan.item_barcode.in_(barcodes)).order_by(Loan.id).tuples() if title and title != barcode}
    found.update({barcode: title for barcode, title in Item.select(Item.barcode, Item.title).where(
        Item.barcode.in_(barcodes)).tuples() if title})
    return found


@bp.get("")
@requires("circulation")
def index():
    return _page()


def _page(status: int = 200, notice: str = "", error: str = ""):
    dealt = request.values.get("dealt") == "1"
    return render("conflicts.html", status, rows=conflict_rows(dealt_with=dealt), shown=SHOWN, dealt=dealt,
                  notice=notice, error=error)


@bp.post("/dealt")
@requires("circulation")
def dealt_with():
    """Mark one conflict as dealt with; htmx swaps its row for one that says by whom and when."""
    conflict_id = request.form.get("id", type=int)
    or_404(SyncConflict.get_or_none(SyncConflict.id == (conflict_id or 0)))
    notice, error, status = f"Sync conflict {conflict_id} is marked as dealt with.", "", 200
    try:
        devices.mark_conflict_dealt(conflict_id, operator())
    except devices.DeviceError as exc:
        notice, error, status = "", str(exc), 409
    if htmx_request.htmx:
        return render("_conflict_row.html", status, c=conflict_rows(only=conflict_id)[0], error=error)
    if not error:
        return done(url_for("conflicts.index", dealt=request.values.get("dealt") or None), notice)
    return _page(status, notice=notice, error=error)
