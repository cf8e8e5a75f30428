"""Jinja filters for dates and money as patrons read them, in the screen's language."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from babel.dates import format_date
from flask import has_request_context

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


def money(value: Decimal | str | None) -> str:
    return f"{Decimal(value or 0):.2f}"


def describe(table: dict, value: str | None) -> str:
    """A coded value's description, translated when the catalogue has it."""
    from flask_babel import gettext

    text = codes.describe(table, value)
    return gettext(text) if text else text


def init_app(app) -> None:
    app.add_template_filter(long_date)
    app.add_template_filter(money)
    app.add_template_global(codes, "codes")
    app.add_template_global(describe, "describe")
