import dataclasses
import datetime as dt

from library_kiosk.domain.account import Account
from library_kiosk.domain.renewal import REASONS, decide, renewals_left
from tests.domain.factories import POLICY, TODAY, account, fee, loan


def test_renewal_moves_the_due_date_a_loan_period_from_today():
    item = loan()
    decision = decide(account([item]), item, TODAY)
    assert decision.renewed
    assert decision.new_due_date == TODAY + dt.timedelta(days=21)
    assert decision.message == "Renewed until 16 December 2026."


def test_one_renewal_below_the_limit_is_allowed():
    item = loan(renewals=POLICY.max_renewals - 1)
    assert decide(account([item]), item, TODAY).renewed


def test_renewal_at_the_limit_is_refused():
    item = loan(renewals=POLICY.max_renewals)
    decision = decide(account([item]), item, TODAY)
    assert (decision.renewed, decision.reason) == (False, "limit")
    assert decision.message == REASONS["limit"]
    assert renewals_left(account([item]), item) == 0


def test_item_requested_by_another_patron_is_refused():
    item = loan(requested=True)
    assert decide(account([item]), item, TODAY).reason == "requested"


def test_an_item_the_library_system_says_is_not_renewable_is_refused_in_plain_words():
    item = dataclasses.replace(loan(), renewable=False)
    decision = decide(account([item]), item, TODAY)
    assert (decision.renewed, decision.reason) == (False, "not_renewable")
    assert decision.message == "This item cannot be renewed. Please ask at the desk."
    assert Account.from_dict(account([item]).to_dict()).loans[0].renewable is False  # kept through sync


def test_lost_and_claimed_returned_items_are_refused():
    for status, reason in (("LOST", "lost"), ("CLAIMED_RETURNED", "claimed_returned"), ("RETURNED", "returned")):
        item = loan(status=status)
        assert decide(account([item]), item, TODAY).reason == reason


def test_expired_patron_is_refused_on_the_expiry_date():
    item = loan()
    assert decide(account([item], expiry=TODAY), item, TODAY).reason == "expired"


def test_blocked_patron_is_refused():
    item = loan()
    assert decide(account([item], fees=[fee("10.01")]), item, TODAY).reason == "blocked"


def test_due_date_is_capped_at_the_last_day_of_membership():
    item = loan(due=TODAY + dt.timedelta(days=2))
    decision = decide(account([item], expiry=TODAY + dt.timedelta(days=10)), item, TODAY)
    assert decision.renewed and decision.new_due_date == TODAY + dt.timedelta(days=9)


def test_renewal_that_would_not_extend_the_loan_is_refused():
    item = loan(due=TODAY + dt.timedelta(days=9))
    decision = decide(account([item], expiry=TODAY + dt.timedelta(days=10)), item, TODAY)
    assert (decision.renewed, decision.reason) == (False, "no_extension")


def test_every_refusal_has_a_plain_reason():
    assert all(message.endswith(".") and len(message) > 20 for message in REASONS.values())
