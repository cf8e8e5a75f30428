"""Values as people read them, in one place: the letters (``central/store/letters.py``) and the staff station
(``provisioning/formats.py``) write money, days and moments with these functions, in the library's locale
(``[letters] locale``) and currency (``[letters] currency``), so "£7.00" and "4 December 2026" read the same in a
letter and at the desk (issue 16). Babel does the writing; nothing here reads a clock.

Moments are stored as naive UTC (``clock.now()``); they are shown in the library's time zone, which is the
machine's, as ``clock.today()`` reads it (``TZ`` or ``/etc/localtime``): a loan renewed at 23:30 UTC on 4 December
is on 5 December in Paris, and the station says so. ``instant_text`` is the machine-readable form (ISO 8601 in
UTC, whole seconds) for a ``<time datetime>`` attribute or a CSV file; ``with_instants`` finds such instants in a
stored text (an audit entry's "until 2026-12-05T11:26:58Z"), so they can be shown as moments too."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency

DAY_PATTERN = "d MMMM y"  # "4 December 2026", "4 décembre 2026"
MOMENT_PATTERN = "d MMMM y, HH:mm"  # "4 December 2026, 13:53"


def long_date(value: dt.date | None, locale: str = "en_GB") -> str:
    """A day as the locale writes it in full ("4 December 2026"); "" for none."""
    if value is None:
        return ""
    return format_date(value, DAY_PATTERN, locale=locale)


def local_moment(value: dt.datetime) -> dt.datetime:
    """A stored moment (naive UTC, or aware) in the library's time zone, with its zone."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return aware.astimezone()


def moment(value: dt.datetime | None, locale: str = "en_GB") -> str:
    """A stored moment as the library's clock on the wall showed it ("4 December 2026, 13:53"); "" for none."""
    if value is None:
        return ""
    return format_datetime(local_moment(value), MOMENT_PATTERN, locale=locale)


def instant_text(value: dt.datetime | None) -> str:
    """The machine-readable form of a stored moment: ISO 8601 in UTC, whole seconds ("2026-12-04T13:53:58Z")."""
    if value is None:
        return ""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


_INSTANT = re.compile(r"\b(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d+)?Z\b")


def with_instants(text: str) -> list[str | dt.datetime]:
    """``text`` cut at each UTC instant written in it as ISO 8601 ("2026-12-05T11:26:58Z"): its pieces of text,
    and each instant as a stored moment (naive UTC) between them; a text without one is itself alone."""
    parts: list[str | dt.datetime] = []
    start = 0
    for found in _INSTANT.finditer(text or ""):
        try:
            instant = dt.datetime.fromisoformat(found.group(1))
        except ValueError:  # 2026-13-45T...: not a moment, left as it is
            continue
        parts += [text[start:found.start()], instant]
        start = found.end()
    parts.append((text or "")[start:])
    return [part for part in parts if part != ""]


def money(value: Decimal | int | float | str | None, currency: str = "GBP", locale: str = "en_GB") -> str:
    """An amount in ``currency`` (ISO 4217) as the locale writes it ("£7.00", "7,00 £GB"); none is zero."""
    return format_currency(Decimal(str(value or 0)), currency.upper(), locale=locale)
