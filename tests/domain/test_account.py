import datetime as dt
from decimal import Decimal

from library_kiosk.domain.account import Account, Request
from tests.domain.factories import account, fee, loan


def test_account_round_trips_through_plain_json():
    original = account(loans=[loan(1), loan(2, status="LOST")], fees=[fee("3.50")])
    original = Account(**{**original.__dict__, "requests": (Request(7, "HOLD", "Beloved", "Morrison, Toni",
                                                                     "ON_HOLD_SHELF", "Main Library", None,
                                                                     dt.date(2026, 11, 20)),)})
    data = original.to_dict()
    assert data["fees"][0]["balance"] == "3.50"
    assert data["loans"][0]["due_date"] == original.loans[0].due_date.isoformat()
    assert Account.from_dict(data) == original


def test_total_owed_sums_active_balances_exactly():
    acc = account(fees=[fee("0.10"), fee("0.20", 2), fee("9.99", 3, status="CLOSED")])
    assert acc.total_owed() == Decimal("0.30")


def test_display_name_keeps_non_ascii_letters():
    assert account().display_name == "Zoë Ólafsdóttir"
