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


def test_a_loan_due_on_the_last_day_of_membership_is_refused_because_the_membership_ends():
    item = loan(due=TODAY + dt.timedelta(days=9))
    decision = decide(account([item], expiry=TODAY + dt.timedelta(days=10)), item, TODAY)
    assert decision.message == "Your membership ends too soon for this item to be renewed."


# The stranger's trial: DEMO-READER, membership until 4 Dec 2027, "Renew all" on 5 Dec 2026 set both loans to
# 26 Dec 2026; renewing again that day would not move the due date, and the membership has nothing to do with it.
DEMO_TODAY = dt.date(2026, 12, 5)


def test_a_loan_just_renewed_is_refused_as_renewed_as_far_as_it_can_be_for_now():
    item = loan(due=dt.date(2026, 12, 26), renewals=1)
    decision = decide(account([item], expiry=dt.date(2027, 12, 4)), item, DEMO_TODAY)
    assert decision.message == ("This item was renewed as far as it can be for now. Please try again nearer the "
                                "due date.")


def test_a_loan_just_renewed_keeps_the_no_extension_code_for_sync_and_letters():
    item = loan(due=dt.date(2026, 12, 26), renewals=1)
    decision = decide(account([item], expiry=dt.date(2027, 12, 4)), item, DEMO_TODAY)
    assert decision.to_dict()["reason"] == "no_extension"


def test_every_refusal_has_a_plain_reason():
    assert all(message.endswith(".") and len(message) > 20 for message in REASONS.values())


# --- the item's own renewals policy (issue 18): the stricter of the group's max_renewals and the item's ---

def _item_loan(renewals_done: int, item_allows: int | None):
    return dataclasses.replace(loan(renewals=renewals_done), max_renewals=item_allows)


def test_an_item_stricter_than_the_group_is_refused_at_its_own_limit():
    item = _item_loan(1, 1)  # the group allows 3
    assert decide(account([item]), item, TODAY).reason == "limit"


def test_an_item_stricter_than_the_group_leaves_only_its_own_renewals():
    item = _item_loan(0, 1)
    assert renewals_left(account([item]), item) == 1


def test_a_group_stricter_than_the_item_is_refused_at_the_groups_limit():
    item = _item_loan(POLICY.max_renewals, 10)
    assert decide(account([item]), item, TODAY).reason == "limit"


def test_below_both_limits_the_item_is_renewed():
    item = _item_loan(1, 2)
    assert decide(account([item]), item, TODAY).renewed


def test_an_item_that_allows_no_renewals_is_refused_with_its_own_reason():
    item = _item_loan(0, 0)
    decision = decide(account([item]), item, TODAY)
    assert (decision.renewed, decision.reason, decision.message) == (
        False, "item_no_renewals", "This item is lent without renewals. Please ask at the desk if you need it longer.")


def test_an_item_that_allows_no_renewals_has_none_left():
    item = _item_loan(0, 0)
    assert renewals_left(account([item]), item) == 0


def test_a_loan_of_an_unknown_item_keeps_the_groups_rule():
    item = _item_loan(POLICY.max_renewals - 1, None)
    assert decide(account([item]), item, TODAY).renewed


def test_the_items_limit_travels_in_the_account_document():
    item = _item_loan(0, 1)
    assert Account.from_dict(account([item]).to_dict()).loans[0].max_renewals == 1


def test_a_document_without_the_items_limit_reads_as_the_groups_rule():
    document = account([loan()]).to_dict()
    del document["loans"][0]["max_renewals"]  # an account document cached before the field existed
    assert Account.from_dict(document).loans[0].max_renewals is None
