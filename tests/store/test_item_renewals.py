"""The item's own renewals policy (``Item.renewals``, issue 18) at the central store: the stricter of the group's
``max_renewals`` and the item's decides a renewal; loans of items the store does not know keep the group's rule."""
import json

from library_kiosk.central.store import circulation, items
from library_kiosk.central.store.accounts import build_account, documents, kiosk_document
from library_kiosk.central.store.changes import latest_seq
from library_kiosk.central.store.models import Loan
from tests.store.factories import TODAY, loan, patron


def _item(barcode, renewals):
    return items.Item.create(barcode=barcode, title=f"Book {barcode}", library="MAIN", renewals=renewals)


def test_a_renewal_of_an_item_lent_without_renewals_is_refused_with_its_reason(central_db):
    user = patron()
    _item("39300", 0)
    lent = loan(user, barcode="39300")
    [decision] = circulation.renew(user, [lent.id], TODAY)
    assert (decision.renewed, decision.reason) == (False, "item_no_renewals")


def test_a_refused_renewal_of_an_item_lent_without_renewals_writes_nothing(central_db):
    user = patron()
    _item("39301", 0)
    lent = loan(user, barcode="39301")
    circulation.renew(user, [lent.id], TODAY)
    assert Loan.get_by_id(lent.id).renewals == 0


def test_an_item_stricter_than_the_group_stops_at_its_own_limit(central_db):
    user = patron()  # group 25 allows 2 renewals (tests/store/factories.py)
    _item("39302", 1)
    lent = loan(user, barcode="39302", renewals=1)
    [decision] = circulation.renew(user, [lent.id], TODAY)
    assert (decision.renewed, decision.reason) == (False, "limit")


def test_a_loan_of_an_item_the_store_does_not_know_keeps_the_groups_rule(central_db):
    user = patron()
    lent = loan(user, barcode="39303", renewals=1)
    [decision] = circulation.renew(user, [lent.id], TODAY)
    assert decision.renewed


def test_the_items_limit_is_in_the_account_and_the_kiosks_document_alike(central_db):
    user = patron()
    _item("39304", 1)
    loan(user, barcode="39304")
    document, _identifiers = documents([user.primary_id])[user.primary_id]
    assert json.loads(document)["loans"] == kiosk_document(build_account(user).to_dict())["loans"]


def test_the_kiosks_document_carries_the_items_limit(central_db):
    user = patron()
    _item("39305", 1)
    loan(user, barcode="39305")
    document, _identifiers = documents([user.primary_id])[user.primary_id]
    assert json.loads(document)["loans"][0]["max_renewals"] == 1


def test_a_feed_changing_an_items_renewals_tells_the_kiosks_of_its_borrower(central_db):
    user = patron()
    _item("39306", None)
    loan(user, barcode="39306")
    before = latest_seq()
    items.import_csv(",".join(items.HEADER) + "\n39306,Book 39306,,,BOOK,MAIN,,,0,,\n")
    assert latest_seq() > before
