"""Renew selected loans and the high-contrast switch, through the Flask test client (live central store)."""
import datetime as dt
import json
import re
import time

from library_kiosk.central.store.models import Loan, User
from tests.store.factories import TODAY, loan

HX = {"HX-Request": "true"}


def _login(kiosk, barcode="20000000000011", pin="2468"):
    kiosk.post("/identify", data={"identifier": barcode})
    return kiosk.post("/pin", data={"pin": pin})


def _id(title):
    return Loan.get(Loan.title == title).id


def _due(title):
    return Loan.get(Loan.title == title).due_date


# --- renew selected ---------------------------------------------------------------------------------

def test_each_renewable_loan_gets_a_tick_named_by_its_title(kiosk):
    html = _login(kiosk).get_data(as_text=True)
    assert 'id="renew-selected"' in html and 'data-testid="renew-selected" disabled' in html
    assert "Renew selected" in html and 'data-testid="selected-count">0</span>' in html
    ticks = re.findall(r'<input type="checkbox" name="loan_id" value="(\d+)" form="renew-selected"\s+'
                       r'aria-labelledby="title-(\d+)"', html)
    assert ticks and all(value == label for value, label in ticks)
    ticked = {int(value) for value, _ in ticks}
    # renewable now: what the renewal rules would renew today (Ulysses is claimed returned, The Second Sex
    # has no renewals left, another patron has requested Gödel, Escher, Bach)
    assert ticked == {_id("Middlemarch"), _id("Les Misérables")}
    for loan_id in ticked:
        assert f'id="title-{loan_id}">' in html


def test_renew_selected_renews_exactly_the_ticked_loans_each_with_its_outcome(kiosk, central_db):
    _login(kiosk)
    before = _due("Les Misérables")
    response = kiosk.post("/renew-selected", headers=HX,
                          data={"loan_id": [str(_id("Middlemarch")), str(_id("Gödel, Escher, Bach"))]})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 of 2 renewed." in html and html.count("data-outcome=") == 2
    assert f'data-outcome="{_id("Les Misérables")}"' not in html
    assert "Another patron has requested this item" in html  # Gödel's own outcome, as renew-all shows it
    new_due = TODAY + dt.timedelta(days=21)
    assert f"New due date: {new_due.day} December 2026" in html
    assert _due("Middlemarch") == new_due and Loan.get(Loan.title == "Middlemarch").renewals == 1
    assert _due("Les Misérables") == before  # not ticked: not renewed


def test_renew_selected_with_nothing_ticked_is_refused_with_a_clear_message(kiosk, central_db):
    _login(kiosk)
    before = {row.id: row.due_date for row in Loan.select()}
    for data in ({}, {"loan_id": ""}, {"loan_id": ["", " "]}):
        response = kiosk.post("/renew-selected", data=data, headers=HX)
        html = response.get_data(as_text=True)
        assert response.status_code == 400
        assert "Nothing to renew" in html and "Tick the loans you want to renew, then press Renew selected." in html
        assert "Back to my account" in html
    assert {row.id: row.due_date for row in Loan.select()} == before


def test_renew_selected_refuses_a_loan_that_is_not_on_the_patrons_account(kiosk, central_db):
    _login(kiosk)
    other = loan(User.get(User.primary_id == "P3"), "Someone else's book")
    before = {row.id: row.due_date for row in Loan.select()}
    for bad in (str(other.id), "999999", "12abc", "-1"):
        response = kiosk.post("/renew-selected", headers=HX, data={"loan_id": [str(_id("Middlemarch")), bad]})
        html = response.get_data(as_text=True)
        assert response.status_code == 400, bad
        assert "This loan was not found on your account. Nothing has been renewed." in html
    assert {row.id: row.due_date for row in Loan.select()} == before  # the good one was not renewed either


def test_renew_selected_needs_the_pin_first(kiosk, central_db):
    kiosk.post("/identify", data={"identifier": "20000000000011"})
    html = kiosk.post("/renew-selected", data={"loan_id": str(_id("Middlemarch"))}).get_data(as_text=True)
    assert "Tap your card or scan your barcode" in html
    assert Loan.get(Loan.title == "Middlemarch").renewals == 0


def test_renew_selected_hidden_and_refused_where_the_upstream_cannot_renew(kiosk, kiosk_app, central_db):
    for found in ({"renew": False, "renew_all": False}, {"renew": True, "renew_all": False}):
        kiosk_app.extensions["kiosk_capabilities"] = (time.monotonic(), found)
        html = _login(kiosk).get_data(as_text=True)
        assert "Middlemarch" in html
        assert 'id="renew-selected"' not in html and 'form="renew-selected"' not in html
        response = kiosk.post("/renew-selected", headers=HX, data={"loan_id": str(_id("Middlemarch"))})
        assert response.status_code == 400
    assert Loan.get(Loan.title == "Middlemarch").renewals == 0


def test_renew_selected_offline_follows_the_renew_all_policy(kiosk, kiosk_app, live_central, central_db):
    _login(kiosk)
    live_central.stop()
    refused = kiosk.post("/renew-selected", headers=HX, data={"loan_id": str(_id("Middlemarch"))})
    assert refused.status_code == 503 and "Renewals are not available just now" in refused.get_data(as_text=True)
    kiosk_app.config["KIOSK"]["kiosk"]["offline_renewals"] = "local"
    html = kiosk.post("/renew-selected", headers=HX,
                      data={"loan_id": str(_id("Middlemarch"))}).get_data(as_text=True)
    assert html.count("data-outcome=") == 1 and "Pending" in html and "Renewed</span>" not in html

    from kiosk import outbox
    from kiosk.cache import cache_db

    with cache_db.connection_context():
        items = [item for item in outbox.pending() if item.op_type == "renew"]
    assert len(items) == 1 and json.loads(items[0].payload)["loan_ids"] == [_id("Middlemarch")]


# --- high contrast ----------------------------------------------------------------------------------

def _pressed(html):
    found = re.search(r'id="contrast-toggle"[^>]*aria-pressed="(true|false)"', html, re.S)
    assert found, "no high-contrast switch on this screen"
    return found.group(1) == "true"


def test_high_contrast_switch_is_on_every_screen_and_off_by_default(kiosk):
    assert not _pressed(kiosk.get("/").get_data(as_text=True))
    assert not _pressed(kiosk.get("/help").get_data(as_text=True))
    assert not _pressed(kiosk.post("/identify", data={"identifier": "20000000000011"}).get_data(as_text=True))
    assert not _pressed(kiosk.post("/pin", data={"pin": "2468"}).get_data(as_text=True))
    assert "High contrast" in kiosk.get("/account").get_data(as_text=True)


def test_high_contrast_is_kept_for_the_session_and_cleared_when_it_ends(kiosk):
    button = kiosk.post("/contrast", headers=HX).get_data(as_text=True)
    assert _pressed(button) and "<main" not in button  # only the switch is swapped
    assert _pressed(kiosk.post("/identify", data={"identifier": "20000000000011"}).get_data(as_text=True))
    assert _pressed(kiosk.post("/pin", data={"pin": "2468"}).get_data(as_text=True))
    assert _pressed(kiosk.post("/renew", headers=HX).get_data(as_text=True))
    assert _pressed(kiosk.get("/help").get_data(as_text=True))
    goodbye = kiosk.post("/done").get_data(as_text=True)
    assert "Thank you. Your session has ended." in goodbye and not _pressed(goodbye)
    assert not _pressed(kiosk.post("/identify", data={"identifier": "20000000000011"}).get_data(as_text=True))


def test_high_contrast_ends_with_the_idle_timeout_and_with_a_new_card(kiosk, kiosk_app):
    _login(kiosk)
    assert _pressed(kiosk.post("/contrast").get_data(as_text=True))
    with kiosk.session_transaction() as session:
        session["seen"] -= kiosk_app.config["KIOSK"]["kiosk"]["idle_timeout_seconds"] + 60
    assert not _pressed(kiosk.get("/").get_data(as_text=True))
    _login(kiosk)
    kiosk.post("/contrast")
    html = kiosk.post("/identify", data={"identifier": "20000000000033"}).get_data(as_text=True)
    assert "Guest Reader" in html and not _pressed(html)  # the previous patron's choice is not inherited


def test_high_contrast_default_from_settings_and_switched_off(kiosk, kiosk_app):
    kiosk_app.config["KIOSK"]["kiosk"]["high_contrast_default"] = True
    assert _pressed(kiosk.get("/").get_data(as_text=True))
    assert not _pressed(kiosk.post("/contrast").get_data(as_text=True))
    assert not _pressed(kiosk.post("/identify", data={"identifier": "20000000000033"}).get_data(as_text=True))
    assert _pressed(kiosk.post("/done").get_data(as_text=True))  # the next patron starts with the default


def test_high_contrast_in_french(kiosk):
    kiosk.post("/language", data={"lang": "fr"})
    html = kiosk.post("/contrast").get_data(as_text=True)
    assert "Contraste élevé" in html and _pressed(html)
    account = _login(kiosk).get_data(as_text=True)
    assert "Contraste élevé" in account and _pressed(account)
    assert "Prolonger la sélection" in account
