import datetime as dt

from library_kiosk.central.store import circulation
from library_kiosk.central.store.changes import latest_seq
from library_kiosk.central.store.models import Loan
from tests.store.factories import TODAY, fine, hold, loan, patron


def test_renew_all_gives_each_loan_its_own_outcome(central_db):
    user = patron()
    ok = loan(user, "Middlemarch")
    at_limit = loan(user, "Ulysses", renewals=2)
    lost = loan(user, "Beloved", status="LOST")
    wanted = loan(user, "Dubliners", barcode="399")
    hold(patron("P2", barcode="B2", card="C2"), item_barcode="399")
    before = latest_seq()
    results = {d.loan_id: d for d in circulation.renew(user, None, TODAY)}
    assert results[ok.id].renewed and results[ok.id].new_due_date == TODAY + dt.timedelta(days=21)
    assert results[at_limit.id].reason == "limit"
    assert results[lost.id].reason == "lost"
    assert results[wanted.id].reason == "requested"
    assert Loan.get_by_id(ok.id).renewals == 1
    assert Loan.get_by_id(at_limit.id).renewals == 2
    assert latest_seq() > before  # kiosks will learn of the new due date


def test_refused_renewals_write_nothing(central_db):
    user = patron()
    item = loan(user, renewals=2)
    before = latest_seq()
    [decision] = circulation.renew(user, [item.id], TODAY)
    assert not decision.renewed
    assert Loan.get_by_id(item.id).due_date == item.due_date
    assert latest_seq() == before


def test_blocked_patron_cannot_renew(central_db):
    user = patron()
    item = loan(user)
    fine(user, "10.01")
    assert circulation.renew(user, [item.id], TODAY)[0].reason == "blocked"


def test_unknown_or_other_patrons_loan_is_refused(central_db):
    user = patron()
    other = patron("P2", barcode="B2", card="C2")
    theirs = loan(other)
    assert circulation.renew(user, [theirs.id], TODAY)[0].reason == "unknown_loan"
    assert Loan.get_by_id(theirs.id).renewals == 0


def test_concurrent_renewals_of_one_loan_never_pass_its_limit(central_db):
    """Six renewals of one loan at once (six kiosks, or a kiosk, the station and replays), one short of the
    group's maximum: exactly one is granted, the others are refused by the limit, on SQLite and PostgreSQL."""
    import threading

    user = patron()
    item = loan(user, renewals=1)  # the test group allows 2
    start = threading.Barrier(6)
    outcomes = []

    def kiosk():
        with central_db.connection_context():  # each kiosk request has its own connection
            start.wait(10)
            outcomes.extend(circulation.renew(user, [item.id], TODAY))

    threads = [threading.Thread(target=kiosk) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(o.reason for o in outcomes if not o.renewed) == ["limit"] * 5
    assert [o.renewed for o in outcomes].count(True) == 1
    assert Loan.get_by_id(item.id).renewals == 2
