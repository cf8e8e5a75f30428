"""A kiosk that already synced a loan "requested by another patron" gets the flag cleared at its next pull when the
request goes with a purged patron (the holder's document changes without the holder changing: docs/sync.md)."""
import datetime as dt

from kiosk import sync
from kiosk.cache import cache_db
from library_kiosk.central.store.jobs.purge import purge_users
from tests.store.factories import TODAY, hold, loan, patron

X = "3100000000001"


def _pull(app):
    with cache_db.connection_context():
        sync.pull(app.extensions["central"], app.extensions["patron_cache"])
        return app.extensions["patron_cache"]


def test_a_purged_patrons_hold_leaves_the_holders_loan_at_the_next_pull(kiosk_app, central_db):
    holder = patron("A", barcode="B1", card="C1")
    loan(holder, "Middlemarch", barcode=X)
    hold(patron("B", barcode="B2", card="C2", purge_date=TODAY - dt.timedelta(days=30)), item_barcode=X)
    cache = _pull(kiosk_app)
    with cache_db.connection_context():
        assert [l.requested_by_other for l in cache.get("A").loans] == [True]
    assert purge_users(operator="ops", today=TODAY).ok
    cache = _pull(kiosk_app)
    with cache_db.connection_context():
        assert cache.get("B") is None
        assert [l.requested_by_other for l in cache.get("A").loans] == [False]
