"""Jinja filters for dates and money as patrons read them."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from domain import codes


def long_date(value: dt.date | None) -> str:
    return f"{value.day} {value:%B %Y}" if value else ""


def money(value: Decimal | str | None) -> str:
    return f"{Decimal(value or 0):.2f}"


def init_app(app) -> None:
    app.add_template_filter(long_date)
    app.add_template_filter(money)
    app.add_template_global(codes, "codes")
    app.add_template_global(codes.describe, "describe")
