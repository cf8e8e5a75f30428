"""Staff calls and PIN lockouts (issue 3), for the circulation desk and up.

A patron's "call a member of staff" at a kiosk becomes a ``StaffCall`` (``library_kiosk.central.store.kiosk_calls``,
through the kiosk API or a sync ``call_staff`` operation); a card locked after too many
wrong PINs becomes an audit entry ``kiosk.pin_lockout`` (``central/api.py``,
``store/sync_ops.py``). This page lists the open calls, oldest first, with a "Done" button
(closes the call, audit ``kiosk.call_closed``), and the recent lockouts, newest first; it
refreshes itself every 10 s. The count of open calls is a badge in the navigation.
"""
from __future__ import annotations

from flask import Blueprint, request, url_for
from htmx_flask import request as htmx_request

from library_kiosk.central.store import kiosk_calls, staff
from library_kiosk.central.store.db import database
from library_kiosk.central.store.staff import AuditEntry
from provisioning.fleet import passive
from provisioning.views import done, operator, render, requires

bp = Blueprint("calls", __name__, url_prefix="/calls")
REFRESH_SECONDS = 10
LOCKOUTS_SHOWN = 50


def open_count() -> int:
    return kiosk_calls.StaffCall.select().where(kiosk_calls.StaffCall.status == "open").count()


@bp.app_context_processor
def _badge():
    """``open_calls_count()`` for the navigation badge (queried only when a page shows it)."""
    return {"open_calls_count": open_count}


def recent_lockouts(limit: int = LOCKOUTS_SHOWN) -> list[AuditEntry]:
    return list(AuditEntry.select().where(AuditEntry.action == "kiosk.pin_lockout")
                .order_by(AuditEntry.created.desc(), AuditEntry.id.desc()).limit(limit))


def _page(status: int = 200, notice: str = "", error: str = ""):
    template = "_calls_list.html" if htmx_request.htmx else "calls.html"
    return render(template, status, calls=kiosk_calls.open_calls(), reasons=kiosk_calls.REASONS,
                  lockouts=recent_lockouts(), refresh=REFRESH_SECONDS, notice=notice, error=error,
                  oob=bool(htmx_request.htmx))


@bp.get("")
@requires("circulation")
def index():
    return _page()


@bp.get("/list")
@requires("circulation")
@passive
def poll():
    return _page()


@bp.get("/badge")
@requires("circulation")
@passive
def badge():
    return render("_calls_badge.html")


@bp.post("/close")
@requires("circulation")
def close():
    try:
        call_id = int(request.form.get("call_id", ""))
    except ValueError:
        return _page(400, error="No call was chosen.")
    with database.atomic():
        call = kiosk_calls.StaffCall.get_or_none(kiosk_calls.StaffCall.id == call_id)
        if call is None or not kiosk_calls.close_call(call_id):
            return _page(409, error="This call is already closed (or does not exist).")
        staff.audit(operator(), "kiosk.call_closed", call.primary_id,
                    f"Call {call.id} from {call.device} ({kiosk_calls.REASONS.get(call.reason, call.reason)}) done")
    notice = f"Call from {call.device} closed."
    return _page(notice=notice) if htmx_request.htmx else done(url_for("calls.index"), notice)
