"""Input limits: the most characters each field of a record may hold, and the dates a record may hold.

One table (``LENGTHS``) for every writer of records: the station's forms (registration, record updates, staff
accounts, user groups, fees), the patron feed and the records the library system sends at a card tap. Alma's
API description (shared/vendor/alma) and the staff guides (shared/domain) give no field lengths, only the
password's minimum of 8 characters, so these are our choices (docs/limits.md has the same table; a test keeps
the two equal). Each fits its column in ``models.py``, so PostgreSQL never refuses what SQLite would take.

Dates: a birth date between ``EARLIEST_DATE`` (1 January 1900) and today; an expiry date not before 1900 and
not more than ``EXPIRY_YEARS`` (10) years after today.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limit:
    label: str  # what a message calls the field
    most: int  # characters


def _table(**fields: tuple[str, int]) -> dict[str, Limit]:
    return {name: Limit(label, most) for name, (label, most) in fields.items()}


# record -> column -> its limit. The record names are the models' (models.py, staff.py).
LENGTHS: dict[str, dict[str, Limit]] = {
    "User": _table(
        primary_id=("Primary ID", 100), first_name=("First name", 100), middle_name=("Middle name", 100),
        last_name=("Last name", 100), pref_first_name=("Preferred first name", 100),
        pref_middle_name=("Preferred middle name", 100), pref_last_name=("Preferred last name", 100),
        job_description=("Job description", 200), campus_code=("Campus", 40), gender=("Gender", 20),
        full_name=("Full name", 300), user_title=("Title", 40), job_category=("Job category", 60),
        rs_library=("Resource sharing library", 100), external_id=("Source system", 40),
        password=("Password", 128)),
    "Email": _table(email_address=("Email address", 200), email_types=("Email type", 100)),
    "Address": _table(
        line1=("Address line 1", 200), line2=("Address line 2", 200), line3=("Address line 3", 200),
        line4=("Address line 4", 200), line5=("Address line 5", 200), city=("City", 100),
        state_province=("State or province", 100), postal_code=("Postal code", 20), country=("Country", 60),
        address_types=("Address type", 100)),
    "Phone": _table(phone_number=("Phone number", 40), phone_types=("Phone type", 100)),
    "Identifier": _table(id_type=("Identifier type", 40), value=("Identifier", 100), note=("Identifier note", 200)),
    "Statistic": _table(statistic_category=("Statistical category", 60), category_type=("Category type", 60),
                        statistic_note=("Statistic note", 200)),
    "Note": _table(note_type=("Note type", 20), note_text=("Note", 2000)),
    "Block": _table(block_type=("Block type", 40), block_description=("Block description", 300)),
    "UserRole": _table(role_type=("Role type", 40), scope=("Role scope", 60)),
    "Fee": _table(fee_type=("Fee type", 40), title=("Fee title", 300), comment=("Fee comment", 300)),
    "FeeTransaction": _table(reason=("Reason", 200)),
    "UserGroup": _table(code=("Group code", 40), description=("Group description", 200)),
    "StaffUser": _table(username=("User name", 60), full_name=("Full name", 200), password=("Password", 128)),
}

EARLIEST_DATE = dt.date(1900, 1, 1)
EXPIRY_YEARS = 10


class TooLong(ValueError):
    """A value is longer than its field's limit (or a date out of its range); the message names both."""


def message(record: str, column: str, value: str) -> str | None:
    """What is wrong with ``value`` in ``record.column`` (None when it fits, or the field has no limit)."""
    limit = LENGTHS[record].get(column)
    if limit is None or len(value) <= limit.most:
        return None
    return f"{limit.label} is too long: at most {limit.most:,} characters (this one has {len(value):,})."


def check(record: str, values: Mapping[str, object], errors: dict[str, str],
          fields: dict[str, str] | None = None) -> None:
    """Add a message to ``errors`` for each over-long string in ``values`` (keyed by column); the message goes
    under the form's field name (``fields``: column -> form field, else the column). A field that already has a
    message keeps it."""
    for column, value in values.items():
        if isinstance(value, str):
            field = (fields or {}).get(column, column)
            problem = message(record, column, value)
            if problem and field not in errors:
                errors[field] = problem


def first_problem(record: str, values: Mapping[str, object]) -> str | None:
    """The first over-long value's message (for writers that refuse a whole record: the upstream's)."""
    errors: dict[str, str] = {}
    check(record, values, errors)
    return next(iter(errors.values()), None)


def years_after(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` later (29 February: the 28th in a year without one)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def latest_expiry(today: dt.date) -> dt.date:
    return years_after(today, EXPIRY_YEARS)


def expiry_problem(value: dt.date, today: dt.date, label: str = "The expiry date") -> str | None:
    """An expiry date before 1900 or more than ``EXPIRY_YEARS`` years ahead is refused."""
    if value < EARLIEST_DATE:
        return f"{label} must not be before {EARLIEST_DATE.isoformat()}."
    latest = latest_expiry(today)
    if value > latest:
        return f"{label} must not be more than {EXPIRY_YEARS} years ahead (at the latest {latest.isoformat()})."
    return None


def birth_date_problem(value: dt.date, today: dt.date) -> str | None:
    """A birth date in the future or before 1900 is refused."""
    if value < EARLIEST_DATE:
        return f"The birth date must not be before {EARLIEST_DATE.isoformat()}."
    if value > today:
        return "The birth date must not be in the future."
    return None
