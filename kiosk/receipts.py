"""Printing receipts on the kiosk's ESC/POS printer (python-escpos).

``[kiosk.printer] kind``: ``none`` (no printer), ``usb`` (``usb_vendor_id``,
``usb_product_id``), ``network`` (``host``, ``port``) or ``file`` (``path``: a
device node such as /dev/usb/lp0, or a plain file in tests). Text goes through
escpos's "magic" encoder, which switches the printer's code page for each
character it needs (CP858 for é, ø, ß; CP852 for ł, ő; and so on), so names in
most European scripts print as written; a character no code page of the printer
profile holds prints as "?".
"""
from __future__ import annotations

import datetime as dt
import logging
import textwrap

log = logging.getLogger(__name__)


def open_printer(config: dict):
    kind = config.get("kind", "none")
    profile = config.get("profile") or "default"
    if kind == "file":
        from escpos.printer import File

        return File(config["path"], profile=profile)
    if kind == "network":
        from escpos.printer import Network

        return Network(config["host"], int(config.get("port") or 9100), timeout=10, profile=profile)
    if kind == "usb":
        from escpos.printer import Usb

        # timeout in ms: never waits forever
        return Usb(int(config["usb_vendor_id"]), int(config["usb_product_id"]), timeout=10000,
                   profile=profile)
    return None


def receipt_lines(library: str, title: str, name: str, lines: list[str], today: dt.date, width: int) -> list[str]:
    """The receipt as text lines, wrapped to the printer's width."""
    from kiosk.filters import long_date

    out = [library, title, "", name, long_date(today), "-" * width]  # the day as the screen's language writes it
    for line in lines:
        out.extend(textwrap.wrap(line, width) or [""])
    out += ["-" * width, ""]
    return out


def print_receipt(config: dict, library: str, title: str, name: str, lines: list[str], today: dt.date) -> bool:
    """Print one receipt; False (and a log line) when there is no printer or it fails."""
    try:
        printer = open_printer(config)
        if printer is None:
            return False
        try:
            printer.open() if hasattr(printer, "open") and config.get("kind") == "network" else None
        except TypeError:
            pass
        width = int(config.get("width") or 42)
        # (a narrow no-break space, French's before "?" and in "1 234,50 £", is in no printer code page: a no-break one)
        text = [line.replace("\u202f", "\u00a0") for line in receipt_lines(library, title, name, lines, today, width)]
        printer.set(align="center", bold=True, double_height=True)
        printer.textln(text[0])
        printer.set(align="center", bold=True, normal_textsize=True)
        printer.textln(text[1])
        printer.set(align="left", bold=False, normal_textsize=True)
        for line in text[2:]:
            printer.textln(line)
        printer.cut()
        printer.close()
        return True
    except Exception as exc:  # any printer trouble: the patron is told, the kiosk goes on
        log.warning("receipt not printed: %s", exc)
        return False


# --- What a receipt holds, and when it goes ([kiosk] receipts, receipt_when; docs/kiosk.md) ---

RECEIPT_HOW = ("ask", "email", "print", "none")  # [kiosk] receipts: how receipts go
RECEIPT_WHEN = ("ask", "always", "on_timeout", "never")  # [kiosk] receipt_when: when the loans receipt goes
SECTIONS = ("loans", "requests", "fees")  # the account screen's sections a receipt can be asked for
LETTERS = {"loans": "FulUserBorrowingActivityLetter", "requests": "FulRequestsReportLetter",
           "fees": "FulFinesFeesNotificationLetter"}  # each section's receipt by email (store/letters.py)
# the borrow receipt (Finish on the borrow tray) by email: the loans receipt, whose letter lists the items
# borrowed today first, with their barcodes and due dates (letter_templates/FulUserBorrowingActivityLetter.*)
LETTERS["borrowed"] = LETTERS["loans"]
PRINTED = {"loans": "receipts_printed", "requests": "requests_printed", "fees": "fees_printed",
           "borrowed": "receipts_printed"}  # usage counters


class ReceiptSettingsError(ValueError):
    """``[kiosk] receipts`` / ``receipt_when`` cannot work together; the kiosk refuses to start."""


def check_settings(kiosk_config: dict) -> None:
    """Refuse receipt settings that cannot work (called when the kiosk app is built)."""
    how = kiosk_config.get("receipts", "ask")
    when = kiosk_config.get("receipt_when", "ask")
    if how not in RECEIPT_HOW:
        raise ReceiptSettingsError(f"[kiosk] receipts = {how!r} is not one of {', '.join(RECEIPT_HOW)}.")
    if when not in RECEIPT_WHEN:
        raise ReceiptSettingsError(f"[kiosk] receipt_when = {when!r} is not one of {', '.join(RECEIPT_WHEN)}.")
    if when == "on_timeout" and how == "print":
        raise ReceiptSettingsError(
            '[kiosk] receipt_when = "on_timeout" cannot be used with receipts = "print": the receipt of a patron '
            "who walked away would be printed on a printer nobody stands at. Use receipts = \"email\" or \"ask\" "
            "(the receipt is then emailed when the session ends), or another receipt_when.")


def section_lines(what: str, account, renewed: list | None = None) -> tuple[str, list[str]]:
    """(title, lines) of the printed receipt for one section of the account, in the screen's language."""
    from flask_babel import gettext as _

    from kiosk.filters import describe, long_date, money
    from kiosk.i18n import colon
    from library_kiosk.domain import codes

    if what == "requests":
        ready = [r for r in account.requests if r.ready_for_pickup]
        lines = []
        for r in ready + [r for r in account.requests if not r.ready_for_pickup]:
            if r.ready_for_pickup:
                line = f"{r.title}{colon()}" + _("ready for pickup at %(place)s", place=r.pickup_location)
                if r.expiry_date:
                    line += ", " + _("until %(date)s", date=long_date(r.expiry_date))
            else:
                line = f"{r.title}{colon()}{describe(codes.REQUEST_STATUSES, r.status)} - " + _(
                    "pickup at %(place)s", place=r.pickup_location)
                if r.place_in_queue:
                    line += " - " + _("place in queue: %(n)s", n=r.place_in_queue)
            lines.append(line)
        return _("Your requests"), lines or [_("You have no requests.")]
    if what == "fees":
        lines = []
        for fee in account.active_fees():
            line = describe(codes.FEE_TYPES, fee.fee_type) + (f" ({fee.title})" if fee.title else "")
            lines.append(f"{line}{colon()}{money(fee.balance)}")
        lines.append(_("Total") + f"{colon()}{money(account.total_owed())}")
        return _("Your fines and fees"), lines
    rows = {row[0]: row for row in renewed or []}
    lines = []
    for loan in account.loans:
        line = f"{loan.title}{colon()}" + _("due %(date)s", date=long_date(loan.due_date))
        if loan.loan_id in rows:
            line += " - " + (_("renewed") if rows[loan.loan_id][1] else _("not renewed"))
        lines.append(line)
    return _("Your loans"), lines or [_("You have no loans.")]


def borrowed_lines(rows: list[dict]) -> tuple[str, list[str]]:
    """(title, lines) of the printed borrow receipt: each item borrowed on this visit (the borrow tray's rows,
    kiosk/tray.py ``borrowed``) with its title, barcode and due date, in the screen's language."""
    from flask_babel import gettext as _

    from kiosk.filters import long_date
    from kiosk.i18n import colon

    lines = []
    for row in rows:
        name = row.get("title") or _("Item %(barcode)s", barcode=row["barcode"])
        due = dt.date.fromisoformat(row["due"]) if row.get("due") else None
        line = f"{name} ({row['barcode']})" if row.get("title") else name
        if due is not None:
            line += colon() + _("due %(date)s", date=long_date(due))
        lines.append(line)
    return _("Items you borrowed"), lines or [_("Nothing was borrowed.")]
