"""Sync conflicts (issue 5), for the circulation desk and up: operations from kiosks the
central store refused, or decided differently from what the kiosk had told the patron (a
pending offline renewal refused at replay: the patron was sent a RenewalRefusedLetter).
Rows come from ``store.devices.SyncConflict``, newest first, each linking to the patron.
"""
from __future__ import annotations

import re

from flask import Blueprint

from store.devices import SyncConflict
from store.models import Loan, User
from provisioning.views import render, requires

bp = Blueprint("conflicts", __name__, url_prefix="/conflicts")
SHOWN = 200
# store/sync_ops.py writes "loan ID (TITLE): WHY [the kiosk said: renewed until DATE]".
DETAIL = re.compile(r"^loan (?P<loan>\d+) \((?P<title>.*?)\): (?P<why>.*?)(?: \[the kiosk said: (?P<promised>.*)\])?$",
                    re.S)
REASONS = {"renewal_refused_at_replay": "Renewal refused at replay", "patron_not_found": "Patron no longer exists",
           "unknown_letter_type": "Unknown letter type", "unknown_reason": "Unknown call reason"}
LETTERS = {"sent": "sent", "failed": "not sent (failed)", "none": "not sent", "": "no letter"}
OPERATIONS = {"renew": "renewal", "lockout": "card lock", "call_staff": "call for staff", "send_letter": "letter"}


def describe(conflict: SyncConflict, loans: dict, names: dict) -> dict:
    parsed = DETAIL.match(conflict.detail or "")
    item, why, promised = "", conflict.detail, ""
    if parsed:
        loan = loans.get(int(parsed["loan"]))
        title = parsed["title"] or (loan.title if loan else "")
        item = f"{title} ({loan.item_barcode})" if loan else title or f"loan {parsed['loan']}"
        why, promised = parsed["why"], parsed["promised"] or ""
    if not promised and conflict.reason == "renewal_refused_at_replay":
        promised = "renewed"
    return {"id": conflict.id, "created": conflict.created, "device": conflict.device,
            "operation": OPERATIONS.get(conflict.op_type, conflict.op_type), "primary_id": conflict.primary_id,
            "patron": names.get(conflict.primary_id), "item": item, "promised": promised or "nothing (refused)",
            "reason": REASONS.get(conflict.reason, conflict.reason), "why": why,
            "letter": LETTERS.get(conflict.letter_status, conflict.letter_status)}


def conflict_rows(limit: int = SHOWN) -> list[dict]:
    found = list(SyncConflict.select().order_by(SyncConflict.created.desc(), SyncConflict.id.desc()).limit(limit))
    ids = {c.primary_id for c in found if c.primary_id}
    names = {u.primary_id: f"{u.first_name} {u.last_name}".strip()
             for u in User.select(User.primary_id, User.first_name, User.last_name).where(User.primary_id.in_(ids))
             } if ids else {}
    loan_ids = {int(m["loan"]) for m in (DETAIL.match(c.detail or "") for c in found) if m}
    loans = {loan.id: loan for loan in Loan.select().where(Loan.id.in_(loan_ids))} if loan_ids else {}
    return [describe(c, loans, names) for c in found]


@bp.get("")
@requires("circulation")
def index():
    return render("conflicts.html", rows=conflict_rows(), shown=SHOWN)
