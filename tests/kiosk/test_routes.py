"""The patron screens through the Flask test client, against a live central store."""
import datetime as dt

import pytest

from kiosk.events import tap_token
from library_kiosk.central.store.kiosk_calls import StaffCall
from library_kiosk.central.store.models import Loan
from library_kiosk.central.store.staff import AuditEntry
from tests.store.factories import TODAY

HX = {"HX-Request": "true"}


def _login(kiosk, barcode="20000000000011", pin="2468"):
    kiosk.post("/identify", data={"identifier": barcode})
    return kiosk.post("/pin", data={"pin": pin})


def test_attract_screen(kiosk):
    page = kiosk.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Tap your card or scan your barcode" in html
    assert "vendor/htmx-2.0.11.min.js" in html and "cdn" not in html.lower()
    assert page.headers["Cache-Control"].startswith("no-store")
    assert 'hx-history="false"' in html and "hx-push-url" not in html


def test_pin_is_asked_before_anything_personal(kiosk):
    html = kiosk.post("/identify", data={"identifier": "20000000000011"}).get_data(as_text=True)
    assert "Enter your PIN" in html and 'inputmode="none"' in html
    assert "Middlemarch" not in html and "2.50" not in html
    assert kiosk.get("/account").status_code == 302  # not before the PIN is right


def test_right_pin_shows_the_account(kiosk):
    html = _login(kiosk).get_data(as_text=True)
    assert "Zoë Ólafsdóttir" in html
    assert "Middlemarch" in html and "Overdue" in html
    assert "Claimed returned" in html
    assert "Ready for pickup" in html and "Science Library" in html
    assert "place in queue: 3" in html
    assert "2.50" in html
    assert "1 request is ready for pickup" in html


def test_wrong_pin_counts_down_then_locks_and_tells_staff(kiosk, central_db):
    kiosk.post("/identify", data={"identifier": "20000000000011"})
    wrong = kiosk.post("/pin", data={"pin": "1111"})
    assert wrong.status_code == 401 and "4 attempts left" in wrong.get_data(as_text=True)
    for _ in range(3):
        kiosk.post("/pin", data={"pin": "1111"})
    locked = kiosk.post("/pin", data={"pin": "1111"})
    assert locked.status_code == 423 and "This card is locked" in locked.get_data(as_text=True)
    entry = AuditEntry.get(AuditEntry.action == "kiosk.pin_lockout")
    assert entry.primary_id == "P1" and entry.operator.startswith("kiosk:")
    again = kiosk.post("/identify", data={"identifier": "20000000000011"})  # locked even with a new tap
    assert again.status_code == 423
    # the right PIN now finds no patron to check it for (the locked tap started none): the attract screen
    right = kiosk.post("/pin", data={"pin": "2468"}).get_data(as_text=True)
    assert "Tap your card or scan your barcode" in right and "Middlemarch" not in right
    assert kiosk.get("/account").status_code == 302  # and no account to show


def test_lock_ends_after_the_configured_time(kiosk, kiosk_app):
    import kiosk.lockout as lockout
    from kiosk.cache import cache_db

    with cache_db.connection_context():
        for _ in range(5):
            lockout.failure("P1", 5, 15)
        row = lockout.PinFailure.get_by_id("P1")
        row.locked_until = dt.datetime(2000, 1, 1)
        row.save()
    assert "Middlemarch" in _login(kiosk).get_data(as_text=True)


@pytest.mark.parametrize("typed", ["  ", "246"], ids=["nothing", "shorter-than-any-pin"])
def test_ok_with_no_pin_or_too_short_a_pin_is_not_a_wrong_pin(kiosk, typed):
    kiosk.post("/identify", data={"identifier": "20000000000011"})
    for _ in range(6):  # more than the lockout's 5
        slip = kiosk.post("/pin", data={"pin": typed})
        html = slip.get_data(as_text=True)
        assert slip.status_code == 400 and "Type your PIN on the keypad" in html and "attempts left" not in html
    assert "Zoë Ólafsdóttir" in kiosk.post("/pin", data={"pin": "2468"}).get_data(as_text=True)


def test_group_without_pin_goes_straight_to_the_account(kiosk):
    html = kiosk.post("/identify", data={"identifier": "20000000000033"}).get_data(as_text=True)
    assert "Guest Reader" in html and "Enter your PIN" not in html


def test_htmx_request_gets_the_partial_only(kiosk):
    kiosk.post("/identify", data={"identifier": "20000000000011"}, headers=HX)
    html = kiosk.post("/pin", data={"pin": "2468"}, headers=HX).get_data(as_text=True)
    assert "<html" not in html and "Zoë Ólafsdóttir" in html


def test_unknown_barcode_gets_a_clear_message(kiosk):
    response = kiosk.post("/identify", data={"identifier": "999"})
    assert response.status_code == 404
    assert "This card is not registered" in response.get_data(as_text=True)
    assert "ask at the desk" in response.get_data(as_text=True)


def test_expired_student_is_told_why_and_where_to_go(kiosk):
    html = _login(kiosk, "20000000000022").get_data(as_text=True)
    assert "Your membership expired on 25 November 2026." in html
    assert "Please contact your department or askUCL." in html


def test_referrals_follow_the_settings(kiosk, kiosk_app):
    kiosk_app.config["KIOSK"]["kiosk"]["referrals"]["group:25"] = "Go to the Registry, room 101."
    assert "Go to the Registry, room 101." in _login(kiosk, "20000000000022").get_data(as_text=True)


def test_tap_token_identifies_and_forged_tokens_do_not(kiosk, kiosk_app):
    good = kiosk.post("/identify", data={"tap": tap_token(kiosk_app, "04A1B2C3D4E5F6")})
    assert "Enter your PIN" in good.get_data(as_text=True)
    forged = kiosk.post("/identify", data={"tap": "04A1B2C3D4E5F6"})
    assert forged.status_code == 400


def test_done_ends_the_session(kiosk):
    _login(kiosk)
    assert "Zoë" in kiosk.get("/account").get_data(as_text=True)
    kiosk.post("/done")
    assert kiosk.get("/account").status_code == 302


def test_a_new_identification_replaces_the_previous_patron(kiosk):
    _login(kiosk)
    kiosk.post("/identify", data={"identifier": "999"})
    assert kiosk.get("/account").status_code == 302
    _login(kiosk)
    kiosk.post("/identify", data={"identifier": "20000000000033"})  # another card: the first patron is gone
    assert "Zoë" not in kiosk.get("/account").get_data(as_text=True)


def test_idle_session_ends_on_the_server_too(kiosk, kiosk_app):
    _login(kiosk)
    with kiosk.session_transaction() as session:
        session["seen"] -= kiosk_app.config["KIOSK"]["kiosk"]["idle_timeout_seconds"] + 60
    assert kiosk.get("/account").status_code == 302


def test_renew_all_gives_each_loan_its_own_outcome(kiosk, central_db):
    _login(kiosk)
    html = kiosk.post("/renew", headers=HX).get_data(as_text=True)
    new_due = TODAY + dt.timedelta(days=21)
    assert html.count("Renewed</span>") == 2  # Middlemarch and Les Misérables; the rest are refused
    assert "This item has been renewed the maximum number of times." in html
    assert "Another patron has requested this item" in html
    assert "This item is recorded as claimed returned" in html
    assert f"New due date: {new_due.day} December 2026" in html
    renewed = Loan.get(Loan.title == "Middlemarch")
    assert renewed.due_date == new_due and renewed.renewals == 1


def test_renew_one(kiosk):
    _login(kiosk)
    loan_id = Loan.get(Loan.title == "Les Misérables").id
    html = kiosk.post("/renew", data={"loan_id": str(loan_id)}, headers=HX).get_data(as_text=True)
    assert "1 of 1 renewed." in html and "Les Misérables" in html


def test_renew_when_the_central_store_is_down_is_refused_calmly_by_default(kiosk, kiosk_app, live_central):
    assert kiosk_app.config["KIOSK"]["kiosk"]["offline_renewals"] == "refuse"  # the default
    _login(kiosk)
    live_central.stop()
    response = kiosk.post("/renew", headers=HX)
    assert response.status_code == 503 and "Renewals are not available just now" in response.get_data(as_text=True)


def test_renew_when_the_central_store_is_down_is_kept_and_shown_pending_with_offline_renewals_local(
        kiosk, kiosk_app, live_central):
    kiosk_app.config["KIOSK"]["kiosk"]["offline_renewals"] = "local"
    _login(kiosk)
    live_central.stop()
    response = kiosk.post("/renew", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Pending" in html and "Renewed</span>" not in html


def test_loans_hidden_until_asked_when_configured(kiosk, kiosk_app):
    kiosk_app.config["KIOSK"]["kiosk"]["show_loans_on_open"] = False
    html = _login(kiosk).get_data(as_text=True)
    assert "Show my loans" in html and "Middlemarch" not in html
    assert "Middlemarch" in kiosk.post("/account/loans").get_data(as_text=True)


def test_call_staff_is_recorded_for_the_staff_station(kiosk, central_db):
    html = kiosk.post("/call-staff", data={"reason": "help"}).get_data(as_text=True)
    assert "A member of staff has been called" in html
    call = StaffCall.get()
    assert call.device == "kiosk-1" and call.status == "open" and call.primary_id == ""


def test_help_text_comes_from_settings_or_the_librarys_template(kiosk, kiosk_app, tmp_path):
    kiosk_app.config["KIOSK"]["kiosk"]["help"]["desk"] = "The desk is on level 2, by the lifts."
    assert "The desk is on level 2, by the lifts." in kiosk.get("/help").get_data(as_text=True)


def test_language_switch_and_preferred_language(kiosk):
    kiosk.post("/identify", data={"identifier": "20000000000011"})
    html = kiosk.post("/language", data={"lang": "fr"}).get_data(as_text=True)
    assert "Saisissez votre code" in html
    french = kiosk.post("/identify", data={"identifier": "20000000000044"}).get_data(as_text=True)
    assert 'lang="fr"' in french and "Saisissez votre code" in french


def test_pin_never_in_the_url_or_the_access_log(kiosk_app, central_db, caplog):
    """The PIN goes in the POST body only; the werkzeug access log of a real server never shows it."""
    import logging

    import requests

    from tests.helpers import LiveServer
    from tests.kiosk.helpers import fill_cache, make_patrons

    make_patrons()
    fill_cache(kiosk_app)
    server = LiveServer(kiosk_app)
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            session = requests.Session()
            session.post(server.url + "/identify", data={"identifier": "20000000000011"})
            wrong = session.post(server.url + "/pin", data={"pin": "97531"})
            right = session.post(server.url + "/pin", data={"pin": "2468"})
    finally:
        server.stop()
    assert "97531" not in wrong.url and "2468" not in right.url and "Middlemarch" in right.text
    log = caplog.text
    assert "POST /pin" in log and "97531" not in log and "2468" not in log
