import datetime as dt

import pytest

from library_kiosk.domain.membership import (
    days_until_expiry,
    expiry_from_card,
    is_expired,
    last_valid_day,
    password_problems,
    pin_problems,
)

EXPIRY = dt.date(2027, 6, 30)


def test_expiry_is_card_expiry_plus_one_day():
    assert expiry_from_card(dt.date(2027, 6, 29)) == EXPIRY


def test_expiry_across_month_and_year_ends():
    assert expiry_from_card(dt.date(2027, 12, 31)) == dt.date(2028, 1, 1)
    assert expiry_from_card(dt.date(2028, 2, 28)) == dt.date(2028, 2, 29)


@pytest.mark.parametrize("today, expired", [
    (EXPIRY - dt.timedelta(days=1), False),  # the day before: the card's own expiry day, still valid
    (EXPIRY, True),  # the day of: expired
    (EXPIRY + dt.timedelta(days=1), True),  # the day after
])
def test_expiry_boundaries(today, expired):
    assert is_expired(EXPIRY, today) is expired


def test_no_expiry_date_never_expires():
    assert not is_expired(None, dt.date(2999, 1, 1))
    assert days_until_expiry(None, dt.date(2026, 1, 1)) is None


def test_last_valid_day_and_days_left():
    assert last_valid_day(EXPIRY) == dt.date(2027, 6, 29)
    assert days_until_expiry(EXPIRY, dt.date(2027, 6, 20)) == 10


def test_password_of_seven_characters_is_refused():
    assert password_problems("Xk9#mQ2") == ["The password must be at least 8 characters long."]


def test_password_of_eight_characters_is_accepted():
    assert password_problems("Xk9#mQ2z") == []


def test_password_containing_the_user_name_is_refused():
    problems = password_problems("ZoeSmith2026!", ["P0000123", "Zoe", "Smith"])
    assert problems == ["The password must not include the user name."]


def test_user_name_check_ignores_case_and_primary_id():
    assert password_problems("xxp0000123xx", ["P0000123"]) == ["The password must not include the user name."]


def test_short_name_parts_do_not_forbid_passwords():
    # a two-letter surname such as "Ng" would forbid too much
    assert password_problems("tangerine-42", ["Ng"]) == []


@pytest.mark.parametrize("common", ["12345678", "password", "Password1", "qwertyuiop"])
def test_common_passwords_are_refused(common):
    assert "The password is too common; choose one that is harder to guess." in password_problems(common)


@pytest.mark.parametrize("pin, ok", [("2468", True), ("97310", True), ("123", False), ("123456789", False),
                                     ("12a4", False), ("1111", False), ("1234", False), ("9876", False), ("", False)])
def test_pin_rules(pin, ok):
    assert (pin_problems(pin) == []) is ok
