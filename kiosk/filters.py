"""Jinja filters for dates, numbers and money as patrons read them, in the screen's language (Babel): "£7.00" and
"7,00 £", "5 December 2026" and "5 décembre 2026", never an ISO date or a bare "7.00" (issue 15)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, get_currency_symbol
from flask import current_app, has_request_context

from library_kiosk.domain import codes


def _locale() -> str:
    if has_request_context():
        from flask_babel import get_locale

        locale = get_locale()
        return str(locale) if locale else "en"
    return "en"


def long_date(value: dt.date | None) -> str:
    if not value:
        return ""
    return format_date(value, "d MMMM y", locale=_locale())


def _kiosk_setting(key: str, default: str) -> str:
    if has_request_context():
        return str(current_app.config["KIOSK"]["kiosk"].get(key) or default)
    return default


def money(value: Decimal | str | None) -> str:
    """An amount in ``[kiosk] currency``, placed and spaced as the screen's language writes it ("£1,234.50",
    "1 234,50 £"), with the symbol the library's own language (the first of ``[kiosk] languages``) gives it: French
    alone would write "£GB", to tell pounds from other pounds."""
    code = _kiosk_setting("currency", "GBP").upper()
    locale = _locale()
    text = format_currency(Decimal(value or 0), code, locale=locale)
    home = (current_app.config["KIOSK"]["kiosk"].get("languages") or ["en"])[0] if has_request_context() else "en"
    symbol, own = get_currency_symbol(code, locale), get_currency_symbol(code, home or "en")
    return text.replace(symbol, own) if symbol != own else text


def number(value: int | float | Decimal | None) -> str:
    """A count or a number as the screen's language writes it ("12,345", "12 345")."""
    return format_decimal(value or 0, locale=_locale())


def describe(table: dict, value: str | None) -> str:
    """A coded value's description, translated when the catalogue has it."""
    from flask_babel import gettext

    text = codes.describe(table, value)
    return gettext(text) if text else text


def init_app(app) -> None:
    app.add_template_filter(long_date)
    app.add_template_filter(money)
    app.add_template_filter(number)
    app.add_template_global(codes, "codes")
    app.add_template_global(describe, "describe")
