"""The station's values as staff read them (issue 16): days, moments and money in the library's time zone, locale
and currency (``[letters] locale`` and ``currency``, the same as its letters; the shared formatter is
``library_kiosk.domain.formatting``), and coded values by their descriptions with the code on hover.

Template filters and globals:
- ``value|day``: ``<time datetime="2026-12-04">4 December 2026</time>``; ``value|long_date`` the text alone.
- ``value|when``: a stored moment (naive UTC) in the library's zone, ``<time datetime="...Z" title="... UTC">``.
- ``value|money``: "£7.00".
- ``text|detail``: a stored text (an audit entry's) with each UTC instant in it shown as ``when`` shows a moment, and
  the counts the central store writes ("1 attempts left") in good English.
- ``coded(table, value)``: ``<span title="Code: X">Description</span>`` (the code alone when the table lacks it).
- ``valid_until(expiry_date)``: the membership's last valid day, worded as the kiosk words it.
- ``membership_dates(expiry_date)``: the card's expiry and the record's expiration date (the day after), both.
- ``loan_state(loan)``: "Overdue" for a loan on loan past its due day (the library's day), else its status.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal

from flask import current_app
from markupsafe import Markup, escape

from library_kiosk.domain import codes, formatting
from library_kiosk.domain.membership import is_expired, last_valid_day


def _letters() -> dict:
    return current_app.config["KIOSK"]["letters"]


def locale() -> str:
    return str(_letters().get("locale") or "en_GB")


def currency() -> str:
    return str(_letters().get("currency") or "GBP")


def _as_day(value: dt.date | str | None) -> dt.date | None:
    """A day, or a stored report's ISO day ("2026-11-20"); None for none."""
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10]) if value else None
    return value or None


def long_date(value: dt.date | str | None) -> str:
    return formatting.long_date(_as_day(value), locale())


def day(value: dt.date | str | None) -> Markup:
    """A day, readable, with its ISO date for machines."""
    value = _as_day(value)
    if not value:
        return Markup("")
    return Markup('<time datetime="{}">{}</time>').format(value.isoformat(), long_date(value))


def moment_text(value: dt.datetime | None) -> str:
    return formatting.moment(value, locale())


def when(value: dt.datetime | None, empty: str = "") -> Markup:
    """A stored moment in the library's time zone; the exact UTC instant on hover and in ``datetime``."""
    if not value:
        return Markup(escape(empty))
    instant = formatting.instant_text(value)
    return Markup('<time datetime="{}" title="{} UTC">{}</time>').format(
        instant, instant[:-1].replace("T", " "), moment_text(value))


_ATTEMPTS = re.compile(r"\b([01]) attempts left\b")


def detail(text: str | None) -> Markup:
    """An audit entry's text as staff read it: "until 2026-12-05T11:26:58Z" reads "until 5 December 2026, 12:26"
    (the library's time; the instant in UTC on hover), "1 attempts left" "1 attempt left"."""
    text = _ATTEMPTS.sub(lambda m: "1 attempt left" if m.group(1) == "1" else "no attempts left", text or "")
    return Markup("").join(when(part) if isinstance(part, dt.datetime) else escape(part)
                           for part in formatting.with_instants(text))


def money(value: Decimal | int | float | str | None) -> str:
    return formatting.money(value, currency(), locale())


def coded(table: Mapping[str, str], value: str | None) -> Markup:
    """A coded value by its description, its code on hover (``LOSTITEMREPLACEMENTFEE`` reads "Lost item
    replacement fee"); a value the table does not know is shown as it is."""
    if value is None or value == "":
        return Markup("")
    text = codes.describe(table, value)
    return Markup('<span class="coded" title="Code: {}" data-code="{}">{}</span>').format(value, value, text)


def coded_list(table: Mapping[str, str], values: str | None) -> Markup:
    """Several coded values kept in one field, comma- or space-separated ("home, work")."""
    parts = [p for p in (values or "").replace(",", " ").split() if p]
    return Markup(", ").join(coded(table, p) for p in parts)


def _today() -> dt.date:
    return current_app.config["TODAY"]()


def valid_until(expiry_date: dt.date | None, today: dt.date | None = None) -> Markup:
    """The membership as the kiosk words it: "valid until 17 January 2027" (the last valid day; the record's
    expiration date, the day after, on hover), "expired on 18 January 2027", or "no expiry date"."""
    if expiry_date is None:
        return Markup("no expiry date")
    record = Markup(' title="Expiration date in the record: {}"').format(long_date(expiry_date))
    if is_expired(expiry_date, today or _today()):
        return Markup('expired on <time datetime="{}"{}>{}</time>').format(
            expiry_date.isoformat(), record, long_date(expiry_date))
    last = last_valid_day(expiry_date)
    assert last is not None
    return Markup('valid until <time datetime="{}"{}>{}</time>').format(last.isoformat(), record, long_date(last))


def card_expiry(expiry_date: dt.date | None) -> str:
    """The card's expiry date (the membership's last valid day), written out, from the record's expiration date."""
    return long_date(last_valid_day(expiry_date))


def membership_dates(expiry_date: dt.date | None) -> Markup:
    """Both dates of a membership, so the record's expiration date is not taken for the card's: "card expires 17
    January 2027; expiration date in the record 18 January 2027" (the record's date is the card's expiry + 1 day,
    the first day the membership is no longer valid; domain/membership.py)."""
    last = last_valid_day(expiry_date)
    if expiry_date is None or last is None:
        return Markup("")
    return Markup("card expires {}; expiration date in the record {}").format(day(last), day(expiry_date))


def loan_state(loan, today: dt.date | None = None) -> Markup:
    """A loan's status; a loan still on loan after its due day reads "Overdue" (its code on hover)."""
    if loan.status == "ON_LOAN" and loan.due_date is not None and loan.due_date < (today or _today()):
        return Markup('<span class="coded overdue text-danger fw-semibold" title="Code: ON_LOAN, due {}" '
                      'data-code="ON_LOAN">Overdue</span>').format(long_date(loan.due_date))
    return coded(codes.LOAN_STATUSES, loan.status)


def init_app(app) -> None:
    for name, function in (("day", day), ("long_date", long_date), ("when", when), ("moment_text", moment_text),
                           ("money", money), ("detail", detail)):
        app.add_template_filter(function, name)
    app.add_template_global(coded, "coded")
    app.add_template_global(coded_list, "coded_list")
    app.add_template_global(valid_until, "valid_until")
    app.add_template_global(membership_dates, "membership_dates")
    app.add_template_global(card_expiry, "card_expiry")
    app.add_template_global(loan_state, "loan_state")
    from library_kiosk.central.store.letters import LETTER_TYPES

    app.add_template_global(LETTER_TYPES, "letter_types")
