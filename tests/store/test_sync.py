from library_kiosk.central.store import sync
from library_kiosk.central.store.models import User
from tests.store.factories import KEYER, loan, patron


def test_changes_page_carries_each_patron_once_at_its_latest_change(central_db):
    first = patron("P1", barcode="B1", card="C1")
    patron("P2", barcode="B2", card="C2")
    loan(first)
    page = sync.changes_after(KEYER, 0, 100)
    assert [r["primary_id"] for r in page["records"]] == ["P2", "P1"]
    assert page["more"] is False
    assert len(page["records"][1]["account"]["loans"]) == 1
    assert {i["key"] for i in page["records"][1]["identifiers"]} == {KEYER.key("B1"), KEYER.key("C1")}


def test_paging_and_cursor(central_db):
    for i in range(5):
        patron(f"P{i}", barcode=f"B{i}", card=f"C{i}")
    page = sync.changes_after(KEYER, 0, 2)
    assert page["more"] is True and len(page["records"]) == 2
    rest = sync.changes_after(KEYER, page["cursor"], 10)
    assert [r["primary_id"] for r in rest["records"]] == ["P2", "P3", "P4"]
    assert sync.changes_after(KEYER, rest["cursor"], 10)["records"] == []


def test_a_deleted_patron_travels_as_a_delete(central_db):
    from library_kiosk.central.store import changes

    user = patron()
    cursor = sync.changes_after(KEYER, 0)["cursor"]
    User.delete_by_id(user.id)
    changes.record("P1", "delete")
    assert sync.changes_after(KEYER, cursor)["records"] == [{"seq": cursor + 1, "primary_id": "P1", "kind": "delete"}]
