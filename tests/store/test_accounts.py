import datetime as dt
from decimal import Decimal

from library_kiosk.central.store.accounts import build_account, build_accounts, find_user
from library_kiosk.central.store.models import Identifier
from tests.store.factories import TODAY, fine, hold, loan, patron


def test_find_by_barcode_card_serial_or_primary_id(central_db):
    user = patron("P1", barcode="20000000000011", card="04A1B2C3D4E5F6")
    assert find_user("20000000000011").id == user.id
    assert find_user("04A1B2C3D4E5F6").id == user.id
    assert find_user("P1").id == user.id
    assert find_user(" 20000000000011 ").id == user.id


def test_unknown_empty_and_inactive_identifiers_find_nobody(central_db):
    user = patron("P1", barcode="B1", card="C1")
    Identifier.update(status="INACTIVE").where(Identifier.value == "C1").execute()
    assert find_user("nope") is None
    assert find_user("") is None
    assert find_user("C1") is None
    assert find_user("B1").id == user.id


def test_account_document_has_loans_requests_fees(central_db):
    user = patron()
    loan(user, "Middlemarch")
    loan(user, "Ulysses", status="LOST")
    hold(user, title="Beloved", status="ON_HOLD_SHELF", place=None)
    fine(user, "2.50")
    fine(user, "9.00", status="CLOSED")
    account = build_account(user)
    assert account.display_name == "Zoë Ólafsdóttir"
    assert [l.title for l in account.loans] == ["Middlemarch", "Ulysses"]
    assert account.loans[1].status == "LOST"
    assert account.requests[0].ready_for_pickup
    assert account.total_owed() == Decimal("2.50")
    assert account.policy.code == "25"


def test_loan_requested_by_another_patron_is_flagged(central_db):
    holder = patron("P1", barcode="B1", card="C1")
    other = patron("P2", barcode="B2", card="C2")
    wanted = loan(holder, barcode="300000000042")
    loan(holder, barcode="300000000043")
    hold(other, item_barcode=wanted.item_barcode)
    hold(holder, item_barcode="300000000043")  # the holder's own request does not count
    flags = {l.item_barcode: l.requested_by_other for l in build_account(holder).loans}
    assert flags == {"300000000042": True, "300000000043": False}


def test_batch_build_matches_single_build(central_db):
    users = [patron(f"P{i}", barcode=f"B{i}", card=f"C{i}") for i in range(5)]
    for user in users[::2]:
        loan(user, due=TODAY - dt.timedelta(days=2))
    assert build_accounts(users) == [build_account(u) for u in users]
