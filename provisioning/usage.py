"""Kiosk usage statistics (for the circulation desk and up): what patrons did at each kiosk over a date
range — sessions, wrong PINs, renewals, receipts, calls for staff, languages … — by kiosk or by day, week
or month, with totals, and the same table as a CSV download. Counts only: kiosks send no personal data
(kiosk/usage.py, store/usage.py, docs/kiosk.md "Usage statistics").
"""
from __future__ import annotations

from flask import Blueprint, Response, request

from library_kiosk.central.store import usage
from provisioning.views import is_iso_day, render, requires, today

bp = Blueprint("usage", __name__, url_prefix="/usage")
GROUP_NAMES = {"kiosk": "Kiosk", "day": "Day", "week": "Week", "month": "Month"}


def _report() -> dict:
    """The report for the request's ``from``, ``to``, ``group`` and ``kiosk``; ``UsageError`` when they are bad."""
    for name, label in (("from", "From"), ("to", "To")):  # the date fields' picker shows the browser's format
        if request.args.get(name) and not is_iso_day(request.args[name]):
            raise usage.UsageError(f"The {label} date is not a date: choose one in the date field.")
    start, end = usage.parse_range(request.args.get("from"), request.args.get("to"), today())
    group = request.args.get("group") or "kiosk"
    if group not in usage.GROUPS:
        raise usage.UsageError("Group by kiosk, day, week or month.")
    return usage.table(start, end, group, request.args.get("kiosk", "").strip() or None)


def _form() -> dict:
    return {"start": request.args.get("from", ""), "end": request.args.get("to", ""),
            "group": request.args.get("group") or "kiosk", "kiosk": request.args.get("kiosk", ""),
            "kiosks": usage.devices_reporting(), "groups": GROUP_NAMES}


@bp.get("")
@requires("circulation")
def index():
    try:
        report = _report()
    except usage.UsageError as exc:
        return render("usage.html", 400, report=None, error=str(exc), form=_form())
    form = _form()
    form.update(start=report["start"].isoformat(), end=report["end"].isoformat())
    return render("usage.html", report=report, error="", form=form)


@bp.get("/csv")
@requires("circulation")
def csv():
    try:
        report = _report()
    except usage.UsageError as exc:
        return Response(f"{exc}\n", 400, mimetype="text/plain")
    name = f"kiosk-usage-{report['start'].isoformat()}-to-{report['end'].isoformat()}-by-{report['group']}.csv"
    return Response(usage.csv_text(report), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
