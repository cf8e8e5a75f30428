import datetime as dt

from library_kiosk.domain.account import Block
from library_kiosk.domain.blocks import active_blocks
from tests.domain.factories import TODAY, account, fee, loan


def codes(acc):
    return [b.code for b in active_blocks(acc, TODAY)]


def test_a_clean_account_has_no_blocks():
    assert codes(account()) == []


def test_expired_on_the_expiry_date_but_not_the_day_before():
    assert codes(account(expiry=TODAY)) == ["expired"]
    assert codes(account(expiry=TODAY + dt.timedelta(days=1))) == []


def test_inactive_record_is_blocked():
    assert codes(account(status="INACTIVE")) == ["inactive"]


def test_fines_equal_to_the_limit_do_not_block_but_more_does():
    assert codes(account(fees=[fee("6.00"), fee("4.00", 2)])) == []
    assert codes(account(fees=[fee("6.00"), fee("4.01", 2)])) == ["fines"]


def test_closed_fees_do_not_count():
    assert codes(account(fees=[fee("50.00", status="CLOSED")])) == []


def test_too_many_overdue_loans_block():
    overdue = [loan(i, due=TODAY - dt.timedelta(days=1)) for i in range(1, 4)]
    assert codes(account(loans=overdue[:2])) == []
    assert codes(account(loans=overdue)) == ["overdue"]


def test_a_loan_due_today_is_not_overdue():
    assert not loan(due=TODAY).is_overdue(TODAY)
    assert loan(due=TODAY - dt.timedelta(days=1)).is_overdue(TODAY)


def test_manual_blocks_count_until_they_expire():
    lost = Block("LOST_CARD", "Card reported lost")
    assert codes(account(blocks=[lost])) == ["manual:LOST_CARD"]
    assert codes(account(blocks=[Block("GENERAL", "x", expiry_date=TODAY)])) == []
    assert codes(account(blocks=[Block("GENERAL", "x", status="INACTIVE")])) == []


def test_block_messages_are_plain_words():
    messages = [b.message for b in active_blocks(account(expiry=TODAY, fees=[fee("12.50")]), TODAY)]
    assert messages == ["Your membership expired on 25 November 2026.", "You owe 12.50, more than the limit of 10.00."]
