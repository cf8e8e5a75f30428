"""Membership rules from the UCL staff guide: expiry, passwords and PINs.

Expiry convention: a record is valid up to and including the day before its
``expiry_date``; on the expiry date it is expired. That is why staff enter
"card expiry + 1 day": the patron keeps borrowing on the day printed on the card.
"""
from __future__ import annotations

import datetime as dt
import functools
import re

from library_kiosk.domain.common_passwords import COMMON_PASSWORDS

PASSWORD_MIN_LENGTH = 8
STAFF_PASSWORD_SCORE = 3  # zxcvbn's 0-4 scale: 3 is "safely unguessable" (about 10^8 guesses or more)
PIN_SHORTEST, PIN_LONGEST = 4, 8  # a kiosk PIN's digits; fewer typed at the kiosk is a slip, never counted
PIN_PATTERN = re.compile(rf"^[0-9]{{{PIN_SHORTEST},{PIN_LONGEST}}}$")


def expiry_from_card(card_expiry: dt.date) -> dt.date:
    """The record's expiry date: the card's (Gallagher) expiry date plus one day."""
    return card_expiry + dt.timedelta(days=1)


def is_expired(expiry_date: dt.date | None, today: dt.date) -> bool:
    """True on and after the expiry date. A record with no expiry date never expires."""
    return expiry_date is not None and today >= expiry_date


def last_valid_day(expiry_date: dt.date | None) -> dt.date | None:
    return None if expiry_date is None else expiry_date - dt.timedelta(days=1)


def days_until_expiry(expiry_date: dt.date | None, today: dt.date) -> int | None:
    """Days the patron can still use the library, counting today; None if no expiry."""
    if expiry_date is None:
        return None
    return (expiry_date - today).days


def password_problems(password: str, user_names: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Every reason ``password`` breaks the guide's rules; empty when it is acceptable.

    Rules: at least 8 characters, must not include the user name (the primary id,
    or the first or last name when they are 3 characters or longer), must not be a
    commonly used password such as 12345678.
    """
    problems = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(f"The password must be at least {PASSWORD_MIN_LENGTH} characters long.")
    lowered = password.lower()
    for name in user_names:
        name = (name or "").strip().lower()
        if len(name) >= 3 and name in lowered:
            problems.append("The password must not include the user name.")
            break
    if is_common_password(lowered):
        problems.append("The password is too common; choose one that is harder to guess.")
    return problems


def is_common_password(password: str) -> bool:
    """One of the 30,000 passwords most often found in leaks (zxcvbn's list), or of the guide's examples."""
    lowered = password.lower()
    return lowered in COMMON_PASSWORDS or lowered in _leaked_passwords()


@functools.cache
def _leaked_passwords() -> frozenset[str]:
    """zxcvbn's list, loaded on first use: it costs 15 MiB and 30 ms, which only the processes that set
    passwords (the station, registration) pay, never the kiosk that renders accounts with these rules."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def staff_password_problems(password: str, user_names: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The guide's rules, and for a staff account one more: not easy to guess (zxcvbn's estimate, at least
    "safely unguessable"), so a word with a symbol, a keyboard row or a repeated letter is refused."""
    from zxcvbn import zxcvbn  # loaded on first use, as _leaked_passwords

    problems = password_problems(password, user_names)
    if not problems and zxcvbn(password, user_inputs=[n for n in user_names if n])["score"] < STAFF_PASSWORD_SCORE:
        problems.append("The password is easy to guess (a word, a name, a keyboard row or a repeated character); "
                        "use a longer mix, such as three unrelated words and a number.")
    return problems


def pin_problems(pin: str) -> list[str]:
    """Every reason ``pin`` is not an acceptable kiosk PIN (4 to 8 digits, not trivial)."""
    if not PIN_PATTERN.match(pin or ""):
        return ["The PIN must be 4 to 8 digits."]
    if len(set(pin)) == 1:
        return ["The PIN must not be a single repeated digit."]
    if pin in "0123456789" or pin in "9876543210":
        return ["The PIN must not be a run of consecutive digits."]
    return []
