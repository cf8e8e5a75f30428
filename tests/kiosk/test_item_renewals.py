"""The item's own renewals policy (``Item.renewals``, issue 18) at the kiosk: the limit travels in the account
document the kiosk caches (sync), so offline decisions and the account screen use it too."""
from __future__ import annotations

import html as html_lib

from kiosk.cache import cache_db
from library_kiosk.central.store import changes, items
from library_kiosk.central.store.models import Loan
from library_kiosk.domain.renewal import decide
from tests.kiosk.helpers import HX, fill_cache, login
from tests.store.factories import TODAY

REASON = "This item is lent without renewals. Please ask at the desk if you need it longer."


def _lent_without_renewals() -> str:
    """P1's loan of "Les Misérables" becomes a loan of an item lent without renewals; its barcode."""
    barcode = Loan.get(Loan.title == "Les Misérables").item_barcode
    items.Item.create(barcode=barcode, title="Les Misérables", library="MAIN", renewals=0)
    changes.record("P1")
    return barcode


def _cached_loan(kiosk_app, barcode):
    with kiosk_app.app_context(), cache_db.connection_context():
        account = kiosk_app.extensions["patron_cache"].get("P1")
    return account, next(loan for loan in account.loans if loan.item_barcode == barcode)


def test_the_items_limit_reaches_the_kiosks_cache(kiosk, kiosk_app):
    barcode = _lent_without_renewals()
    fill_cache(kiosk_app)
    assert _cached_loan(kiosk_app, barcode)[1].max_renewals == 0


def test_offline_the_cached_item_limit_refuses_the_renewal_with_its_reason(kiosk, kiosk_app):
    barcode = _lent_without_renewals()
    fill_cache(kiosk_app)
    account, lent = _cached_loan(kiosk_app, barcode)
    assert decide(account, lent, TODAY).reason == "item_no_renewals"


def test_the_account_screen_says_why_the_loan_cannot_be_renewed(kiosk):
    _lent_without_renewals()
    login(kiosk)
    assert REASON in html_lib.unescape(kiosk.get("/account", headers=HX).get_data(as_text=True))
