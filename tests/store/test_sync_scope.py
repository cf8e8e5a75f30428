"""The kiosks' scope (store/sync_scope.py): who is in, who enters and who leaves, on the product's clock."""
import datetime as dt

from library_kiosk.central.store import sync_scope
from library_kiosk.central.store.changes import latest_seq
from library_kiosk.central.store.models import Change
from library_kiosk.domain import clock
from tests.store.factories import loan, patron

SCOPE = sync_scope.Scope(30)


def _changes_after(seq):
    return [c.primary_id for c in Change.select().where(Change.seq > seq).order_by(Change.seq)]


def test_every_patron_is_in_the_default_scope(central_db):
    patron("P1")
    assert sync_scope.EVERY_PATRON.label == "all"
    assert sync_scope.in_scope(sync_scope.EVERY_PATRON, ["P1", "nobody"]) == {"P1", "nobody"}
    assert sync_scope.expire(sync_scope.EVERY_PATRON) == []


def test_a_kiosk_visit_or_a_recent_loan_puts_a_patron_in(central_db):
    visitor, borrower, idle = patron("V", barcode="1", card=""), patron("B", barcode="2", card=""), \
        patron("I", barcode="3", card="")
    loan(borrower, due=clock.today() + dt.timedelta(days=21 - 30))  # dated exactly 30 days ago: in
    loan(idle, due=clock.today() + dt.timedelta(days=21 - 31))  # 31 days ago: out
    sync_scope.note_active(SCOPE, ["V"], clock.now() - dt.timedelta(days=29, hours=23))
    assert visitor and idle and sync_scope.in_scope(SCOPE, ["V", "B", "I"]) == {"V", "B"}


def test_entering_records_one_change_and_repeated_visits_write_once_an_hour(central_db):
    patron("P1")
    before = latest_seq()
    assert sync_scope.note_active(SCOPE, ["P1"]) == ["P1"]
    assert sync_scope.note_active(SCOPE, ["P1"]) == []  # already in: no change for kiosks
    assert _changes_after(before) == ["P1"]
    first = sync_scope.PatronActivity.get(primary_id="P1").last_active
    sync_scope.note_active(SCOPE, ["P1"], clock.now() + dt.timedelta(minutes=30))
    assert sync_scope.PatronActivity.get(primary_id="P1").last_active == first  # within the hour: not written
    later = clock.now() + dt.timedelta(hours=2)
    sync_scope.note_active(SCOPE, ["P1"], later)
    assert sync_scope.PatronActivity.get(primary_id="P1").last_active == later


def test_leaving_records_a_change_once(central_db):
    patron("P1")
    sync_scope.note_active(SCOPE, ["P1"])
    assert sync_scope.expire(SCOPE) == []  # nobody has left yet (and the sweep starts here)
    before = latest_seq()
    month = clock.now() + dt.timedelta(days=30, minutes=1)
    assert sync_scope.expire(SCOPE, month) == ["P1"]
    assert sync_scope.expire(SCOPE, month + dt.timedelta(minutes=1)) == []  # recorded once
    assert _changes_after(before) == ["P1"] and sync_scope.in_scope(SCOPE, ["P1"], month) == set()
