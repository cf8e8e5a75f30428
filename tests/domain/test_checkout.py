"""Checkout and return rules (library_kiosk/domain/checkout.py): every refusal, its order, due dates and routes."""
import dataclasses
import datetime as dt
from decimal import Decimal

from library_kiosk.domain.account import Block
from library_kiosk.domain.checkout import (
    CHECKIN_ROUTES,
    CHECKOUT_REASONS,
    CheckinOutcome,
    Hold,
    Item,
    ItemState,
    Limits,
    decide_checkin,
    decide_checkout,
    decide_offline_checkout,
    due_date,
    first_hold,
)
from tests.domain.factories import POLICY, TODAY, account, fee, loan

BOOK = Item(barcode="39000001", title="Middlemarch", material_type="BOOK", library="MAIN")


def on_shelf(item=BOOK, **state):
    return ItemState(item, **state)


def test_an_item_on_the_shelf_is_lent_for_the_groups_loan_period():
    decision = decide_checkout(account(), on_shelf(), TODAY)
    assert (decision.borrowed, decision.due_date) == (True, TODAY + dt.timedelta(days=POLICY.loan_period_days))
    assert decision.message == "Due back on 16 December 2026."
    assert decision.title == "Middlemarch"


def test_the_items_own_loan_period_wins_over_the_groups():
    decision = decide_checkout(account(), on_shelf(dataclasses.replace(BOOK, loan_period_days=7)), TODAY)
    assert decision.due_date == TODAY + dt.timedelta(days=7)


def test_the_due_date_is_capped_at_the_last_valid_day_of_the_membership():
    expiry = TODAY + dt.timedelta(days=5)
    decision = decide_checkout(account(expiry=expiry), on_shelf(), TODAY)
    assert decision.due_date == expiry - dt.timedelta(days=1)


def test_a_due_date_on_a_closed_day_moves_to_the_next_open_day():
    regular = TODAY + dt.timedelta(days=21)
    closed = frozenset({regular, regular + dt.timedelta(days=1)})
    assert decide_checkout(account(), on_shelf(), TODAY, closed_days=closed).due_date == regular + dt.timedelta(days=2)


def test_a_move_past_the_membership_end_goes_back_to_the_last_open_day_instead():
    cap = TODAY + dt.timedelta(days=10)
    closed = frozenset({cap, cap - dt.timedelta(days=1)})
    assert due_date(TODAY, 21, cap + dt.timedelta(days=1), closed) == cap - dt.timedelta(days=2)


def test_a_membership_ending_today_gives_a_loan_due_today_never_earlier():
    assert due_date(TODAY, 21, TODAY) == TODAY


def test_an_unknown_item_is_refused():
    decision = decide_checkout(account(), None, TODAY)
    assert (decision.borrowed, decision.reason) == (False, "unknown_item")
    assert decision.message == CHECKOUT_REASONS["unknown_item"]


def test_an_expired_patron_cannot_borrow():
    assert decide_checkout(account(expiry=TODAY), on_shelf(), TODAY).reason == "expired"


def test_expiry_is_checked_from_the_day_of_the_expiry_date_not_before():
    assert decide_checkout(account(expiry=TODAY + dt.timedelta(days=1)), on_shelf(), TODAY).borrowed


def test_a_patron_owing_more_than_the_fine_limit_is_blocked():
    assert decide_checkout(account(fees=[fee("10.01")]), on_shelf(), TODAY).reason == "blocked"


def test_a_manual_block_blocks_borrowing():
    blocked = account(blocks=[Block("CARD_LOST", "Card reported lost")])
    assert decide_checkout(blocked, on_shelf(), TODAY).reason == "blocked"


def test_an_expired_manual_block_does_not():
    lifted = account(blocks=[Block("CARD_LOST", "Card reported lost", expiry_date=TODAY)])
    assert decide_checkout(lifted, on_shelf(), TODAY).borrowed


def test_an_inactive_account_is_blocked():
    assert decide_checkout(account(status="INACTIVE"), on_shelf(), TODAY).reason == "blocked"


def test_too_many_overdue_loans_block_borrowing():
    late = [loan(i, due=TODAY - dt.timedelta(days=1)) for i in range(1, POLICY.overdue_limit + 2)]
    assert decide_checkout(account(late), on_shelf(), TODAY).reason == "blocked"


def test_the_groups_loan_limit_is_reached_at_the_limit_not_before():
    policy = dataclasses.replace(POLICY, loan_limit=2)
    assert decide_checkout(account([loan(1)], policy=policy), on_shelf(), TODAY).borrowed
    assert decide_checkout(account([loan(1), loan(2)], policy=policy), on_shelf(), TODAY).reason == "loan_limit"


def test_lost_items_still_count_against_the_loan_limit():
    policy = dataclasses.replace(POLICY, loan_limit=1)
    assert decide_checkout(account([loan(1, status="LOST")], policy=policy), on_shelf(), TODAY).reason == "loan_limit"


def test_the_material_type_limit_refuses_at_the_limit():
    assert decide_checkout(account(), on_shelf(), TODAY, Limits(material_loans=1, material_limit=2)).borrowed
    refused = decide_checkout(account(), on_shelf(), TODAY, Limits(material_loans=2, material_limit=2))
    assert (refused.reason, refused.message) == ("material_limit", CHECKOUT_REASONS["material_limit"])


def test_an_item_that_does_not_circulate_is_refused():
    item = dataclasses.replace(BOOK, circulates=False)
    assert decide_checkout(account(), on_shelf(item), TODAY).reason == "not_circulating"


def test_an_item_not_for_kiosk_checkout_is_refused():
    item = dataclasses.replace(BOOK, kiosk_checkout=False)
    assert decide_checkout(account(), on_shelf(item), TODAY).reason == "not_at_kiosk"


def test_an_item_on_loan_to_someone_else_is_refused():
    assert decide_checkout(account(), on_shelf(borrower="P2"), TODAY).reason == "on_loan_to_other"


def test_an_item_already_on_loan_to_this_patron_says_so_even_when_blocked():
    decision = decide_checkout(account(fees=[fee("50")]), on_shelf(borrower="P1"), TODAY)
    assert (decision.borrowed, decision.reason) == (False, "already_yours")


def test_an_item_on_the_hold_shelf_for_another_patron_is_refused():
    holds = (Hold("P2", "ON_HOLD_SHELF", None),)
    assert decide_checkout(account(), on_shelf(holds=holds), TODAY).reason == "on_hold_for_other"


def test_an_item_first_in_another_patrons_queue_is_refused():
    holds = (Hold("P1", "NOT_STARTED", 2), Hold("P2", "NOT_STARTED", 1))
    assert decide_checkout(account(), on_shelf(holds=holds), TODAY).reason == "on_hold_for_other"


def test_the_patron_first_in_the_queue_may_borrow_it():
    holds = (Hold("P2", "NOT_STARTED", 2), Hold("P1", "NOT_STARTED", 1))
    assert decide_checkout(account(), on_shelf(holds=holds), TODAY).borrowed


def test_the_patron_whose_hold_is_on_the_shelf_may_borrow_it_whatever_the_queue():
    holds = (Hold("P2", "NOT_STARTED", 1), Hold("P1", "ON_HOLD_SHELF", None))
    assert decide_checkout(account(), on_shelf(holds=holds), TODAY).borrowed
    assert first_hold(holds) == holds[1]


def test_a_hold_without_a_place_comes_after_the_numbered_ones():
    holds = (Hold("P2", "NOT_STARTED", None), Hold("P1", "NOT_STARTED", 3))
    assert first_hold(holds).primary_id == "P1"


def test_the_patron_is_told_of_their_own_block_before_the_items_problem():
    item = dataclasses.replace(BOOK, circulates=False)
    assert decide_checkout(account(expiry=TODAY), on_shelf(item), TODAY).reason == "expired"


def test_every_checkout_reason_has_a_plain_sentence():
    assert all(text.endswith(".") and "_" not in text for text in CHECKOUT_REASONS.values())


# --- return ---

def test_an_item_on_loan_comes_back_to_the_shelf_with_nothing_owed_when_on_time():
    outcome = decide_checkin(on_shelf(borrower="P1", due_date=TODAY), TODAY, "MAIN", Decimal("0.20"))
    assert (outcome.returned, outcome.route, outcome.late_fee) == (True, "shelf", None)
    assert outcome.message == CHECKIN_ROUTES["shelf"]


def test_a_late_return_is_fined_per_day_late():
    outcome = decide_checkin(on_shelf(borrower="P1", due_date=TODAY - dt.timedelta(days=3)), TODAY, "MAIN",
                             Decimal("0.20"))
    assert outcome.late_fee == Decimal("0.60")
    assert outcome.to_dict()["late_fee"] == "0.60"


def test_no_fine_when_the_group_fines_nothing():
    outcome = decide_checkin(on_shelf(borrower="P1", due_date=TODAY - dt.timedelta(days=3)), TODAY)
    assert outcome.late_fee is None


def test_an_item_someone_holds_goes_to_the_hold_shelf():
    outcome = decide_checkin(on_shelf(borrower="P1", due_date=TODAY, holds=(Hold("P2", "NOT_STARTED", 1),)), TODAY)
    assert (outcome.route, outcome.message) == ("hold_shelf", CHECKIN_ROUTES["hold_shelf"])


def test_an_item_of_another_library_goes_in_transit():
    item = dataclasses.replace(BOOK, library="SCIENCE")
    outcome = decide_checkin(on_shelf(item, borrower="P1", due_date=TODAY), TODAY, "MAIN")
    assert (outcome.returned, outcome.route) == (True, "transit")


def test_a_kiosk_without_a_library_code_treats_every_item_as_its_own():
    item = dataclasses.replace(BOOK, library="SCIENCE")
    assert decide_checkin(on_shelf(item, borrower="P1", due_date=TODAY), TODAY, "").route == "shelf"


def test_an_item_not_on_loan_is_refused_and_goes_to_the_desk():
    outcome = decide_checkin(on_shelf(), TODAY, "MAIN")
    assert (outcome.returned, outcome.reason, outcome.route) == (False, "not_on_loan", "desk")
    assert outcome.message == "This item was not on loan. Please take it to the desk."


def test_an_unknown_item_is_not_returned():
    outcome = decide_checkin(None, TODAY)
    assert (outcome.returned, outcome.reason) == (False, "unknown_item")


def test_a_queued_return_tells_the_patron_it_is_back_and_will_be_recorded():
    outcome = CheckinOutcome("39000001", True, "shelf", None, "queued")
    assert outcome.message.startswith("Returned. The library system will be told")


# --- offline checkout (the kiosk's own decision) ---

def test_offline_the_kiosk_lends_up_to_its_limit():
    assert decide_offline_checkout(account(), "39000001", TODAY, 2, 3).borrowed
    assert decide_offline_checkout(account(), "39000001", TODAY, 3, 3).reason == "offline_limit"


def test_offline_the_due_date_is_the_groups_capped_at_the_membership():
    decision = decide_offline_checkout(account(expiry=TODAY + dt.timedelta(days=4)), "39000001", TODAY, 0, 3)
    assert decision.due_date == TODAY + dt.timedelta(days=3)


def test_offline_the_cached_blocks_and_expiry_refuse():
    assert decide_offline_checkout(account(fees=[fee("11")]), "3", TODAY, 0, 3).reason == "blocked"
    assert decide_offline_checkout(account(expiry=TODAY), "3", TODAY, 0, 3).reason == "expired"


def test_offline_an_item_already_on_the_cached_account_is_already_yours():
    assert decide_offline_checkout(account([loan(1)]), loan(1).item_barcode, TODAY, 0, 3).reason == "already_yours"


def test_offline_the_groups_loan_limit_holds():
    policy = dataclasses.replace(POLICY, loan_limit=1)
    assert decide_offline_checkout(account([loan(1)], policy=policy), "3", TODAY, 0, 3).reason == "loan_limit"
