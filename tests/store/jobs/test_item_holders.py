"""A loan's "requested by another patron" follows other patrons' requests: writes that remove or add requests record
a change for the holders of the items (store.changes.record_item_holders), so a kiosk's next sync carries the new
flag; the documents the jobs prepare in the read model are already right."""
import datetime as dt

from library_kiosk.central.store import changes, documents, sync
from library_kiosk.central.store.accounts import build_account, get_user
from library_kiosk.central.store.jobs.merge import merge_users
from library_kiosk.central.store.jobs.purge import purge_users
from library_kiosk.central.store.models import Change, Loan
from tests.store import factories
from tests.sync.served import served

TODAY = factories.TODAY
X, Y, Z = "3100000000001", "3100000000002", "3100000000003"


def _person(pid, **fields):
    n = sum(map(ord, pid)) * 7919 + len(pid)
    return factories.patron(pid, barcode=f"2{n:013d}", card=None, pin=None, **fields)


def _flags(account_dict):
    return {loan["item_barcode"]: loan["requested_by_other"] for loan in account_dict["loans"]}


def _synced(cursor):
    """What a kiosk gets from its next sync after ``cursor``: {primary id: account dict, or None for a delete}."""
    return served(cursor, 100)


def test_record_item_holders_records_the_open_loans_of_the_items_once(central_db):
    a, b, c = _person("A"), _person("B"), _person("C")
    factories.loan(a, barcode=X)
    factories.loan(a, barcode=Y)
    factories.loan(b, barcode=Y, status="LOST")  # not returned: still shown at the kiosk
    factories.loan(c, barcode=X, status="RETURNED")
    factories.loan(c, barcode=Z)
    seq = changes.latest_seq()
    assert changes.record_item_holders([X, Y, "", X]) == ["A", "B"]
    assert sorted(c.primary_id for c in Change.select().where(Change.seq > seq)) == ["A", "B"]
    assert changes.record_item_holders(["", "3999"]) == [] and changes.record_item_holders([]) == []
    assert changes.record_item_holders([X, Y, Z], batch=1) == ["A", "B", "C"]


def test_a_purge_that_removes_a_hold_reaches_the_holder_at_its_next_sync(central_db):
    holder, other, bystander = _person("A"), _person("C"), _person("E")
    factories.loan(holder, "Middlemarch", barcode=X)
    factories.loan(other, "Beloved", barcode=Y)
    factories.loan(bystander, "Ulysses", barcode=Z)
    purged = _person("B", purge_date=TODAY - dt.timedelta(days=30))
    factories.hold(purged, item_barcode=X)  # A's loan is requested by B, who is purged
    factories.hold(purged, item_barcode=Y, status="CANCELLED")  # not an open request: C's flag does not change
    factories.hold(_person("D"), item_barcode=Z)  # E's loan stays requested
    sync.refresh_documents()  # what the kiosks have
    assert _flags(build_account(get_user("A")).to_dict()) == {X: True}
    cursor = changes.latest_seq()

    dry = purge_users(operator="ops", today=TODAY, dry_run=True)
    assert dry.ok and changes.latest_seq() == cursor
    assert purge_users(operator="ops", today=TODAY).ok
    seen = _synced(cursor)
    assert set(seen) == {"A", "B"} and seen["B"] is None
    assert _flags(seen["A"]) == {X: False}
    assert documents.PatronDocument.get_by_id("A").seq >= max(c.seq for c in Change.select().where(
        Change.primary_id == "A"))  # the purge prepared A's document: the sync streams it


def test_a_merge_moves_holds_and_every_document_stays_right(central_db):
    keep, dup, third = _person("K"), _person("DUP"), _person("T")
    factories.loan(keep, barcode=X)
    factories.loan(third, barcode=Y)
    factories.hold(dup, item_barcode=X)  # the kept record's loan: requested by itself after the merge
    factories.hold(dup, item_barcode=Y)  # T's loan: requested by K instead of DUP, still by another patron
    sync.refresh_documents()
    cursor = changes.latest_seq()
    assert merge_users(duplicate="DUP", keep="K", operator="ops").ok
    seen = _synced(cursor)
    assert seen == {"DUP": None, "K": seen["K"]} and _flags(seen["K"]) == {X: False}
    assert _flags(build_account(get_user("T")).to_dict()) == {Y: True}
    assert _flags(_synced(0)["T"]) == {Y: True}  # and the document a first sync serves for T
    assert Loan.select().where(Loan.item_barcode == X).get().user_id == keep.id
