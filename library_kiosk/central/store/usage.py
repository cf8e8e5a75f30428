"""Kiosk usage statistics at the central store: daily counters per kiosk, nothing personal.

Each kiosk counts what happens at it per day (kiosk/usage.py) and sends, in its heartbeat,
the *cumulative* value of each counter of each day (docs/sync.md "Usage statistics").
``record`` keeps one row per (device, day, counter) and stores the larger of the value it
has and the value it gets — an upsert, never an addition — so a heartbeat sent twice, or
an older one arriving late, changes nothing. The device is the one whose token made the
request (central/auth.py), never a name in the body.

Nothing about a patron is accepted: a counter is a name of at most 40 lower-case letters,
digits and underscores, a value a whole number. ``parse`` refuses anything else
(``UsageError``, a 400 at the API) before anything is written.

Queries: ``table`` (counters by kiosk or by day / week / month over a date range, with
totals) for the staff station's Usage page, its CSV and ``kiosk usage report``.
"""
from __future__ import annotations

import datetime as dt
import re

import peewee as pw

from library_kiosk.central.store.db import database
from library_kiosk.central.store.models import BaseModel, _now

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_DAYS = 31  # days in one heartbeat
MAX_COUNTERS = 100  # counters in one day
MAX_VALUE = 10**12
EARLIEST = dt.date(2000, 1, 1)
MAX_RANGE_DAYS = 3700  # about ten years in one report

# The counters kiosks send, in the order staff see them, with what they mean (docs/kiosk.md).
LABELS = {
    "sessions_tap": "Sessions started by card tap",
    "sessions_barcode": "Sessions started by barcode",
    "sessions_offline": "Sessions served while offline",
    "unknown_cards": "Unknown cards or barcodes",
    "pins_wrong": "Wrong PINs",
    "cards_locked": "Cards locked (too many wrong PINs)",
    "locked_card_refused": "Locked cards refused",
    "refused_expired": "Expired or inactive accounts (referred)",
    "refused_blocked": "Blocked accounts (referred)",
    "accounts_shown": "Accounts shown",
    "renewals_asked": "Renewals asked (loans)",
    "renewals_granted": "Renewals granted",
    "renewals_refused": "Renewals refused",
    "renewals_pending": "Renewals granted offline (pending)",
    "requests_reports_emailed": "Requests reports emailed",
    "receipts_printed": "Receipts printed",
    "receipts_emailed": "Receipts emailed",
    "requests_printed": "Requests lists printed",
    "fees_emailed": "Fines and fees lists emailed",
    "fees_printed": "Fines and fees lists printed",
    "receipts_at_end": "Receipts emailed at the end of a session (receipt_when = on_timeout)",
    "staff_calls": "Calls for staff",
    "ended_done": "Sessions ended by Done",
    "ended_timeout": "Sessions ended by idle timeout",
    "checkouts": "Items borrowed (checkouts, lent offline included)",
    "returns": "Items returned (queued offline included)",
}
GROUPS = ("kiosk", "day", "week", "month")


class UsageError(ValueError):
    """The usage payload or the report's range is not acceptable; the message says why."""


class KioskUsage(BaseModel):
    device = pw.CharField(max_length=60)  # the device's name (store.devices.Device.name)
    day = pw.DateField()
    counter = pw.CharField(max_length=40)
    value = pw.BigIntegerField(default=0)
    updated = pw.DateTimeField(default=_now)

    class Meta:
        indexes = ((("device", "day", "counter"), True), (("day",), False))


def label(counter: str) -> str:
    if counter in LABELS:
        return LABELS[counter]
    if counter.startswith("language_"):
        return f"Language chosen: {counter[len('language_'):]}"
    return counter


def parse(usage, today: dt.date, skipped: list[str] | None = None) -> list[tuple[dt.date, str, int]]:
    """Check a heartbeat's ``usage`` object, ``{"YYYY-MM-DD": {counter: value}}``; the rows, or ``UsageError``.

    A day more than 2 days after ``today`` (counted under a kiosk clock that was ahead) is refused, unless
    ``skipped`` is a list: then, when the rest of the day is well formed, it is left out of the rows and its
    date added to ``skipped`` (the heartbeat's answer names it; the kiosk keeps those counts and sends them
    again, dated by its trusted clock: docs/sync.md "Trusted time")."""
    if not isinstance(usage, dict):
        raise UsageError("usage must be an object of days.")
    if len(usage) > MAX_DAYS:
        raise UsageError(f"usage may hold at most {MAX_DAYS} days.")
    rows = []
    latest = today + dt.timedelta(days=2)  # a kiosk's clock a little ahead of the central store's
    for day_text, counts in usage.items():
        day = _day(day_text)
        ahead = day > latest and skipped is not None
        if not EARLIEST <= day <= latest and not ahead:
            raise UsageError(f"usage day {day_text} is out of range.")
        found = _counts(day, day_text, counts)
        if ahead and skipped is not None:
            skipped.append(day_text)
        else:
            rows.extend(found)
    return rows


def _day(day_text) -> dt.date:
    try:
        day = dt.date.fromisoformat(day_text) if isinstance(day_text, str) and len(day_text) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise UsageError(f"usage day {str(day_text)[:20]!r} is not a date (YYYY-MM-DD).")
    return day


def _counts(day: dt.date, day_text: str, counts) -> list[tuple[dt.date, str, int]]:
    if not isinstance(counts, dict) or not 1 <= len(counts) <= MAX_COUNTERS:
        raise UsageError(f"usage[{day_text}] must be an object of 1 to {MAX_COUNTERS} counters.")
    rows = []
    for counter, value in counts.items():
        if not isinstance(counter, str) or not NAME.match(counter):
            raise UsageError(f"usage[{day_text}]: counter {str(counter)[:45]!r} is not a counter name "
                             "(lower-case letters, digits and _).")
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_VALUE:
            raise UsageError(f"usage[{day_text}][{counter}] must be a whole number of at least 0.")
        rows.append((day, counter, value))
    return rows


def record(device: str, rows: list[tuple[dt.date, str, int]]) -> int:
    """Store cumulative values for ``device``: each (device, day, counter) keeps the larger value. Returns
    how many rows were given; a resend changes nothing."""
    if not rows:
        return 0
    now = _now()
    with database.atomic():
        for start in range(0, len(rows), 200):
            chunk = [{"device": device, "day": day, "counter": counter, "value": value, "updated": now}
                     for day, counter, value in rows[start:start + 200]]
            (KioskUsage.insert_many(chunk)
             .on_conflict(conflict_target=[KioskUsage.device, KioskUsage.day, KioskUsage.counter],
                          preserve=[KioskUsage.value, KioskUsage.updated],
                          where=(pw.EXCLUDED.value > KioskUsage.value))
             .execute())
    return len(rows)


def parse_range(start: str | dt.date | None, end: str | dt.date | None, today: dt.date) -> tuple[dt.date, dt.date]:
    """A report's range from text (``YYYY-MM-DD``); defaults: the first of this month to today."""
    def one(value, default, name):
        if value in (None, ""):
            return default
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise UsageError(f"{name} must be a date (YYYY-MM-DD).") from None

    first, last = one(start, today.replace(day=1), "From"), one(end, today, "To")
    if first > last:
        raise UsageError("From must not be after To.")
    if (last - first).days > MAX_RANGE_DAYS:
        raise UsageError(f"The range may be at most {MAX_RANGE_DAYS} days.")
    return first, last


def period(day: dt.date, group: str) -> str:
    """The period a day falls in: the day, its ISO week (``2026-W48``) or its month (``2026-11``)."""
    if group == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if group == "month":
        return f"{day.year}-{day.month:02d}"
    return day.isoformat()


def rows(start: dt.date, end: dt.date, device: str | None = None) -> list[tuple[str, dt.date, str, int]]:
    """(device, day, counter, value) in the range, oldest first."""
    query = (KioskUsage.select(KioskUsage.device, KioskUsage.day, KioskUsage.counter, KioskUsage.value)
             .where((KioskUsage.day >= start) & (KioskUsage.day <= end))
             .order_by(KioskUsage.day, KioskUsage.device, KioskUsage.counter))
    if device:
        query = query.where(KioskUsage.device == device)
    return [(d, day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)), c, v)
            for d, day, c, v in query.tuples()]


def totals(start: dt.date, end: dt.date, group: str = "day", device: str | None = None) -> dict:
    """{column: {counter: total}} where a column is a kiosk (``group="kiosk"``) or a day, week or month."""
    if group not in GROUPS:
        raise UsageError(f"Group by one of {', '.join(GROUPS)}.")
    found: dict = {}
    for name, day, counter, value in rows(start, end, device):
        column = name if group == "kiosk" else period(day, group)
        counts = found.setdefault(column, {})
        counts[counter] = counts.get(counter, 0) + value
    return found


def table(start: dt.date, end: dt.date, group: str = "kiosk", device: str | None = None) -> dict:
    """The report staff see: ``columns`` (kiosks or periods), and one row per counter with its label, a value
    per column and its total; known counters first in their order, then languages and any others."""
    found = totals(start, end, group, device)
    columns = sorted(found)
    seen = {counter for counts in found.values() for counter in counts}
    order = [c for c in LABELS if c in seen] + sorted(seen - set(LABELS))
    body = []
    for counter in order:
        values = [found[column].get(counter, 0) for column in columns]
        body.append({"counter": counter, "label": label(counter), "values": values, "total": sum(values)})
    return {"start": start, "end": end, "group": group, "device": device or "", "columns": columns, "rows": body}


def devices_reporting() -> list[str]:
    """Every kiosk that has sent usage (the report's kiosk filter)."""
    return [name for (name,) in KioskUsage.select(KioskUsage.device).distinct().order_by(KioskUsage.device).tuples()]


def csv_text(report: dict) -> str:
    """The report as CSV: counter, label, one column per kiosk or period, total. Cells that a spreadsheet
    would take for a formula are prefixed with ``'``."""
    import csv
    import io

    def safe(value):
        text = str(value)
        return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["counter", "label"] + [safe(c) for c in report["columns"]] + ["total"])
    for row in report["rows"]:
        writer.writerow([row["counter"], safe(row["label"])] + row["values"] + [row["total"]])
    return out.getvalue()
