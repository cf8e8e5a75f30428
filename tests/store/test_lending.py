"""Checkout and return at the central store (store/lending.py): the rules applied and written in one transaction,
once per key, and two kiosks borrowing one item at once (SQLite and PostgreSQL)."""
import datetime as dt
import threading
from decimal import Decimal

import pytest

from library_kiosk.central.store import circulation, items, lending
from library_kiosk.central.store.changes import latest_seq
from library_kiosk.central.store.models import Fee, Loan, Request, UserGroup
from library_kiosk.central.upstream.local import LocalUpstream
from tests.store.factories import TODAY, hold, loan, patron

BARCODE = "39000001"


def book(barcode=BARCODE, **policy):
    values = dict(title="Middlemarch", author="Eliot, George", call_number="PR4662", material_type="BOOK",
                  library="MAIN", location="STACKS")
    values.update(policy)
    return items.Item.create(barcode=barcode, **values)


def open_loans(barcode=BARCODE):
    return list(Loan.select().where((Loan.item_barcode == barcode) & Loan.still_out()))


def test_a_checkout_writes_a_loan_due_after_the_groups_period_and_tells_kiosks(central_db):
    user = patron()
    book()
    before = latest_seq()
    decision = circulation.checkout(user, BARCODE, TODAY, "k1")
    assert (decision.borrowed, decision.due_date) == (True, TODAY + dt.timedelta(days=21))
    [row] = open_loans()
    assert (row.user_id, row.title, row.due_date, row.loan_date) == (user.id, "Middlemarch",
                                                                     TODAY + dt.timedelta(days=21), TODAY)
    assert latest_seq() > before


def test_a_refused_checkout_writes_nothing(central_db):
    user = patron()
    book(circulates=False)
    before = latest_seq()
    decision = circulation.checkout(user, BARCODE, TODAY, "k1")
    assert (decision.borrowed, decision.reason) == (False, "not_circulating")
    assert open_loans() == [] and latest_seq() == before


def test_an_unknown_item_is_refused_by_its_barcode(central_db):
    decision = circulation.checkout(patron(), "NOPE", TODAY, "k1")
    assert (decision.item_barcode, decision.reason) == ("NOPE", "unknown_item")


def test_the_same_key_again_gives_the_first_answer_and_lends_once(central_db):
    user = patron()
    book()
    first = circulation.checkout(user, BARCODE, TODAY, "kiosk-1:abc")
    again = circulation.checkout(user, BARCODE, TODAY, "kiosk-1:abc")
    assert again == first and again.borrowed  # not "already_yours": the first answer
    assert len(open_loans()) == 1


def test_a_key_used_for_another_item_is_refused(central_db):
    user = patron()
    book()
    book("39000002")
    circulation.checkout(user, BARCODE, TODAY, "kiosk-1:abc")
    with pytest.raises(lending.KeyReused):
        circulation.checkout(user, "39000002", TODAY, "kiosk-1:abc")
    assert open_loans("39000002") == []


def test_the_item_policy_loan_period_and_a_closed_day_make_the_due_date(central_db):
    user = patron()
    book(loan_period_days=7)
    items.set_closed(TODAY + dt.timedelta(days=7), "MAIN", "Staff training")
    assert circulation.checkout(user, BARCODE, TODAY, "k").due_date == TODAY + dt.timedelta(days=8)


def test_a_closed_day_of_another_library_does_not_move_it(central_db):
    book(loan_period_days=7)
    items.set_closed(TODAY + dt.timedelta(days=7), "SCIENCE")
    assert circulation.checkout(patron(), BARCODE, TODAY, "k").due_date == TODAY + dt.timedelta(days=7)


def test_the_material_type_limit_of_the_group_refuses(central_db):
    user = patron()
    items.MaterialLimit.create(user_group=user.user_group_id, material_type="DVD", loan_limit=1)
    book("D1", material_type="DVD")
    book("D2", material_type="DVD")
    book("B1")
    assert circulation.checkout(user, "D1", TODAY, "k1").borrowed
    assert circulation.checkout(user, "D2", TODAY, "k2").reason == "material_limit"
    assert circulation.checkout(user, "B1", TODAY, "k3").borrowed


def test_the_groups_loan_limit_refuses(central_db):
    user = patron()
    UserGroup.update(loan_limit=1).where(UserGroup.code == user.user_group_id).execute()
    loan(user)
    book()
    assert circulation.checkout(user, BARCODE, TODAY, "k").reason == "loan_limit"


def test_borrowing_the_item_one_holds_fulfils_the_hold(central_db):
    user = patron()
    book()
    hold(user, item_barcode=BARCODE, status="ON_HOLD_SHELF", place=None)
    assert circulation.checkout(user, BARCODE, TODAY, "k").borrowed
    assert Request.select().count() == 0


def test_an_item_on_the_hold_shelf_for_another_patron_is_refused(central_db):
    book()
    hold(patron("P2", barcode="B2", card="C2"), item_barcode=BARCODE, status="ON_HOLD_SHELF", place=None)
    assert circulation.checkout(patron(), BARCODE, TODAY, "k").reason == "on_hold_for_other"


def test_an_item_on_loan_to_another_patron_is_refused(central_db):
    book()
    loan(patron("P2", barcode="B2", card="C2"), barcode=BARCODE)
    assert circulation.checkout(patron(), BARCODE, TODAY, "k").reason == "on_loan_to_other"


def test_a_return_on_time_closes_the_loan_to_the_shelf(central_db):
    user = patron()
    book()
    circulation.checkout(user, BARCODE, TODAY, "k1")
    outcome = circulation.checkin(BARCODE, TODAY + dt.timedelta(days=3), "k2", "MAIN")
    assert (outcome.returned, outcome.route, outcome.late_fee) == (True, "shelf", None)
    assert open_loans() == []
    assert Loan.get(Loan.item_barcode == BARCODE).return_date == TODAY + dt.timedelta(days=3)


def test_a_late_return_charges_the_groups_fine_per_day_to_the_borrower(central_db):
    user = patron()
    UserGroup.update(fine_per_day=Decimal("0.25")).where(UserGroup.code == user.user_group_id).execute()
    book()
    loan(user, barcode=BARCODE, due=TODAY - dt.timedelta(days=4))
    outcome = circulation.checkin(BARCODE, TODAY, "k", "MAIN")
    assert outcome.late_fee == Decimal("1.00")
    [fee] = list(Fee.select())
    assert (fee.user_id, fee.fee_type, fee.balance) == (user.id, "OVERDUEFINE", Decimal("1.00"))


def test_a_return_of_an_item_someone_holds_puts_the_hold_on_the_shelf(central_db):
    book()
    loan(patron(), barcode=BARCODE)
    waiting = hold(patron("P2", barcode="B2", card="C2"), item_barcode=BARCODE, place=1)
    outcome = circulation.checkin(BARCODE, TODAY, "k", "MAIN")
    assert (outcome.returned, outcome.route) == (True, "hold_shelf")
    assert Request.get_by_id(waiting.id).status == "ON_HOLD_SHELF"


def test_a_return_of_another_librarys_item_goes_in_transit_and_leaves_holds_alone(central_db):
    book(library="SCIENCE")
    loan(patron(), barcode=BARCODE)
    waiting = hold(patron("P2", barcode="B2", card="C2"), item_barcode=BARCODE, place=1)
    assert circulation.checkin(BARCODE, TODAY, "k", "MAIN").route == "transit"
    assert Request.get_by_id(waiting.id).status == "NOT_STARTED"


def test_a_return_of_an_item_not_on_loan_is_refused_and_changes_nothing(central_db):
    book()
    before = latest_seq()
    outcome = circulation.checkin(BARCODE, TODAY, "k", "MAIN")
    assert (outcome.returned, outcome.reason, outcome.route) == (False, "not_on_loan", "desk")
    assert latest_seq() == before


def test_a_return_replayed_by_its_key_is_applied_once(central_db):
    user = patron()
    UserGroup.update(fine_per_day=Decimal("0.10")).where(UserGroup.code == user.user_group_id).execute()
    book()
    loan(user, barcode=BARCODE, due=TODAY - dt.timedelta(days=2))
    first = circulation.checkin(BARCODE, TODAY, "kiosk-1:r", "MAIN")
    again = circulation.checkin(BARCODE, TODAY, "kiosk-1:r", "MAIN")
    assert again == first and again.returned  # not "not_on_loan"
    assert Fee.select().count() == 1


def test_the_local_upstream_lends_and_takes_back_through_the_store(central_db):
    patron()
    book()
    upstream = LocalUpstream()
    assert upstream.capabilities().checkout and upstream.capabilities().checkin
    assert upstream.checkout("P1", BARCODE, TODAY, "k1").borrowed
    assert upstream.item_on_loan(BARCODE, TODAY) is True
    assert upstream.checkin(BARCODE, TODAY, "k2").returned
    assert upstream.item_on_loan(BARCODE, TODAY) is False
    assert upstream.item_on_loan("NOPE", TODAY) is None


def test_two_kiosks_borrowing_one_item_at_once_one_wins(central_db):
    """Six patrons at six kiosks borrow the same item at the same moment: one loan, five refusals
    (``on_loan_to_other``), on SQLite and PostgreSQL (``KIOSK_TEST_DB=postgres``)."""
    users = [patron(f"P{i}", barcode=f"B{i}", card=f"C{i}") for i in range(6)]
    book()
    start = threading.Barrier(6)
    outcomes, errors = [], []

    def kiosk(user):
        try:
            with central_db.connection_context():  # each kiosk request has its own connection
                start.wait(10)
                outcomes.append(circulation.checkout(user, BARCODE, TODAY, f"kiosk-{user.primary_id}:k"))
        except Exception as exc:  # (seen in the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=kiosk, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(o.reason for o in outcomes if not o.borrowed) == ["on_loan_to_other"] * 5
    assert len(open_loans()) == 1


def test_one_patron_at_two_kiosks_cannot_pass_the_loan_limit(central_db):
    user = patron()
    UserGroup.update(loan_limit=1).where(UserGroup.code == user.user_group_id).execute()
    book("A1")
    book("A2")
    start = threading.Barrier(2)
    outcomes = []

    def kiosk(barcode):
        with central_db.connection_context():
            start.wait(10)
            outcomes.append(circulation.checkout(user, barcode, TODAY, f"{barcode}:k"))

    threads = [threading.Thread(target=kiosk, args=(b,)) for b in ("A1", "A2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(o.reason for o in outcomes) == ["", "loan_limit"]
    assert Loan.select().where(Loan.still_out()).count() == 1
