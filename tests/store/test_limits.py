"""Input limits at the store (store/limits.py): every writer refuses a value longer than its field's limit, or a
date out of its range, with a message naming the field and the limit, and writes nothing. On SQLite (which would
keep any length) and on PostgreSQL (-m db)."""
import datetime as dt
import os
import re

import pytest

from library_kiosk.central.store import fees, limits, records, registration, staff
from library_kiosk.central.store.jobs import feed_parse, groups
from library_kiosk.central.store.models import Email, Fee, FeeTransaction, Note, Phone, User
from tests.provisioning.helpers import REGISTRATION
from tests.store import factories

TODAY = factories.TODAY
DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "limits.md")


@pytest.fixture
def group25(central_db):
    return factories.group("25")


def test_a_ten_thousand_character_first_name_is_refused_and_nothing_is_registered(group25):
    with pytest.raises(registration.Invalid) as refused:
        registration.register(dict(REGISTRATION, first_name="A" * 10_000), TODAY, "tester")
    assert (refused.value.errors, User.select().count()) == (
        {"first_name": "First name is too long: at most 100 characters (this one has 10,000)."}, 0)


def test_a_name_at_the_limit_is_registered(group25):
    user = registration.register(dict(REGISTRATION, last_name="Ó" * 100), TODAY, "tester")
    assert User.get_by_id(user.id).last_name == "Ó" * 100


@pytest.mark.parametrize("field, value, message", [
    ("email", "a" * 190 + "@example.org", "Email address is too long: at most 200 characters (this one has 202)."),
    ("line1", "x" * 201, "Address line 1 is too long: at most 200 characters (this one has 201)."),
    ("postal_code", "9" * 21, "Postal code is too long: at most 20 characters (this one has 21)."),
    ("city", "c" * 101, "City is too long: at most 100 characters (this one has 101)."),
])
def test_registration_refuses_each_over_long_contact_field(group25, field, value, message):
    with pytest.raises(registration.Invalid) as refused:
        registration.register(dict(REGISTRATION, **{field: value}), TODAY, "tester")
    assert (refused.value.errors.get(field), User.select().count()) == (message, 0)


def test_a_password_longer_than_128_characters_is_refused(group25):
    long = "Orchid-lantern-" * 9  # 135 characters
    with pytest.raises(registration.Invalid) as refused:
        registration.register(dict(REGISTRATION, password=long, password_confirm=long), TODAY, "tester")
    assert refused.value.errors["password"] == "Password is too long: at most 128 characters (this one has 135)."


def test_a_card_expiry_more_than_ten_years_ahead_is_refused(group25):
    with pytest.raises(registration.Invalid) as refused:
        registration.register(dict(REGISTRATION, card_expiry="2036-11-26"), TODAY, "tester")
    assert refused.value.errors["card_expiry"] == (
        "The card's expiry date must not be more than 10 years ahead (at the latest 2036-11-25).")


def test_a_card_expiry_ten_years_ahead_is_registered(group25):
    user = registration.register(dict(REGISTRATION, card_expiry="2036-11-25"), TODAY, "tester")
    assert user.expiry_date == dt.date(2036, 11, 26)  # card expiry + 1 day


def test_updating_the_general_information_refuses_a_long_last_name_and_keeps_the_record(group25):
    user = factories.patron("P1", first_name="Ada", last_name="Short")
    form = {"first_name": "Ada", "last_name": "L" * 101, "user_group": "25", "expiry_date": "2027-06-30",
            "status": "ACTIVE"}
    with pytest.raises(registration.Invalid) as refused:
        records.update_general(user, form, "tester", TODAY)
    assert (refused.value.errors, User.get_by_id(user.id).last_name) == (
        {"last_name": "Last name is too long: at most 100 characters (this one has 101)."}, "Short")


def test_updating_refuses_an_expiry_more_than_ten_years_ahead(group25):
    user = factories.patron("P1")
    form = {"first_name": "Ada", "last_name": "Lovelace", "user_group": "25", "expiry_date": "2040-01-01"}
    with pytest.raises(registration.Invalid) as refused:
        records.update_general(user, form, "tester", TODAY)
    assert refused.value.errors == {"expiry_date": "The expiry date must not be more than 10 years ahead "
                                                   "(at the latest 2036-11-25)."}


@pytest.mark.parametrize("kind, form, field, model", [
    ("note", {"note_text": "n" * 2001}, "note_text", Note),
    ("phone", {"phone_number": "1" * 41}, "phone_number", Phone),
    ("email", {"email": "e" * 201 + "@example.org"}, "email", Email),
])
def test_segment_rows_refuse_over_long_values(group25, kind, form, field, model):
    user = factories.patron("P1")
    before = model.select().count()
    with pytest.raises(registration.Invalid) as refused:
        records.save_row(user, kind, form, "tester")
    assert ("is too long: at most" in refused.value.errors[field], model.select().count()) == (True, before)


def test_a_staff_account_with_a_long_full_name_is_refused(central_db):
    with pytest.raises(staff.StaffError) as refused:
        staff.create_staff("newdesk", "Circulation-pass-9", "circulation", "F" * 201)
    assert (str(refused.value), staff.StaffUser.select().count()) == (
        "Full name is too long: at most 200 characters (this one has 201).", 0)


def test_a_user_group_description_longer_than_its_limit_is_refused(central_db):
    with pytest.raises(ValueError, match="the description must be 1 to 200 characters"):
        groups.save_group("77", "D" * 201, {}, operator="tester")


def test_a_fee_comment_is_refused_not_cut(group25):
    user = factories.patron("P1")
    with pytest.raises(registration.Invalid) as refused:
        fees.add_fee(user, {"fee_type": "OTHER", "amount": "2.00", "comment": "c" * 301}, "tester")
    assert (refused.value.errors, Fee.select().count()) == (
        {"comment": "Fee comment is too long: at most 300 characters (this one has 301)."}, 0)


def test_a_waiving_reason_is_refused_not_cut(group25):
    fee = factories.fine(factories.patron("P1"))
    with pytest.raises(registration.Invalid) as refused:
        fees.settle(fee, "WAIVE", {"amount": "1.00", "reason": "r" * 201}, "tester")
    assert (refused.value.errors, FeeTransaction.select().count()) == (
        {"reason": "Reason is too long: at most 200 characters (this one has 201)."}, 0)


@pytest.mark.parametrize("born, problem", [
    (dt.date(1899, 12, 31), "The birth date must not be before 1900-01-01."),
    (TODAY + dt.timedelta(days=1), "The birth date must not be in the future."),
    (dt.date(1900, 1, 1), None),
    (TODAY, None),
])
def test_birth_dates_run_from_1900_to_today(born, problem):
    assert limits.birth_date_problem(born, TODAY) == problem


def test_ten_years_after_29_february_is_28_february():
    assert limits.latest_expiry(dt.date(2028, 2, 29)) == dt.date(2038, 2, 28)


def test_the_feed_reads_names_with_the_same_limits():
    assert {name: most for name, most in feed_parse._NAME_LIMITS.items()} == {
        name: limits.LENGTHS["User"][name].most for name in feed_parse._NAME_LIMITS}


def test_every_limit_fits_its_column():
    from library_kiosk.central.store import models
    from library_kiosk.central.store.staff import StaffUser

    tables = {**{m.__name__: m for m in models.PATRON_MODELS}, "StaffUser": StaffUser}
    too_wide = [(record, column) for record, columns in limits.LENGTHS.items() for column, limit in columns.items()
                if column in tables[record]._meta.fields
                and getattr(tables[record]._meta.fields[column], "max_length", None) is not None
                and limit.most > tables[record]._meta.fields[column].max_length]
    assert too_wide == []


def test_the_documented_table_is_the_code_table():
    with open(DOCS, encoding="utf-8") as doc:
        rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \| [^|]+ \| ([\d,]+) \|$", doc.read(), re.M)
    documented = {(record, column): int(most.replace(",", "")) for record, column, most in rows}
    assert documented == {(record, column): limit.most for record, columns in limits.LENGTHS.items()
                          for column, limit in columns.items()}
