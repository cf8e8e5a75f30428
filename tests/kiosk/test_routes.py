import datetime as dt

import pytest

from kiosk.events import tap_token
from tests.store.factories import TODAY, fine, hold, loan, patron


@pytest.fixture
def kiosk(kiosk_app, central_db):
    user = patron("P1", barcode="20000000000011", card="04A1B2C3D4E5F6")
    loan(user, "Middlemarch", due=TODAY - dt.timedelta(days=2))
    loan(user, "Ulysses", status="CLAIMED_RETURNED")
    hold(user, title="Beloved", status="ON_HOLD_SHELF", place=None, pickup="Science Library")
    hold(user, title="Dubliners", status="NOT_STARTED", place=3)
    fine(user, "2.50")
    patron("P2", barcode="20000000000022", card="04FFFFFFFFFFFF", expiry=TODAY)
    from kiosk import sync
    from kiosk.cache import cache_db
    with cache_db.connection_context():
        sync.pull(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"])
    return kiosk_app.test_client()


def test_attract_screen(kiosk):
    page = kiosk.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Tap your card or scan your barcode" in html
    assert "vendor/htmx-2.0.11.min.js" in html and "cdn" not in html.lower()
    assert page.headers["Cache-Control"].startswith("no-store")


def test_identify_by_barcode_shows_the_account(kiosk):
    html = kiosk.post("/identify", data={"identifier": "20000000000011"}).get_data(as_text=True)
    assert "Zoë Ólafsdóttir" in html
    assert "Middlemarch" in html and "Overdue" in html
    assert "Claimed returned" in html
    assert "Ready for pickup" in html and "Science Library" in html
    assert "place in queue: 3" in html
    assert "2.50" in html


def test_htmx_request_gets_the_partial_only(kiosk):
    partial = kiosk.post("/identify", data={"identifier": "20000000000011"}, headers={"HX-Request": "true"})
    html = partial.get_data(as_text=True)
    assert "<html" not in html and "Zoë Ólafsdóttir" in html


def test_unknown_barcode_gets_a_clear_message(kiosk):
    response = kiosk.post("/identify", data={"identifier": "999"})
    assert response.status_code == 404
    assert "This card is not registered" in response.get_data(as_text=True)
    assert "ask at the desk" in response.get_data(as_text=True)


def test_expired_patron_is_told_why(kiosk):
    html = kiosk.post("/identify", data={"identifier": "20000000000022"}).get_data(as_text=True)
    assert "Your membership expired on 25 November 2026." in html


def test_tap_token_identifies_and_forged_tokens_do_not(kiosk, kiosk_app):
    good = kiosk.post("/identify", data={"tap": tap_token(kiosk_app, "04A1B2C3D4E5F6")})
    assert "Zoë Ólafsdóttir" in good.get_data(as_text=True)
    forged = kiosk.post("/identify", data={"tap": "04A1B2C3D4E5F6"})
    assert forged.status_code == 400


def test_done_ends_the_session(kiosk):
    kiosk.post("/identify", data={"identifier": "20000000000011"})
    assert "Zoë" in kiosk.get("/account").get_data(as_text=True)
    kiosk.post("/done")
    assert kiosk.get("/account").status_code == 302


def test_a_new_identification_replaces_the_previous_patron(kiosk):
    kiosk.post("/identify", data={"identifier": "20000000000011"})
    kiosk.post("/identify", data={"identifier": "999"})
    assert kiosk.get("/account").status_code == 302
