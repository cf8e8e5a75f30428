"""Pending only for what is pending (issue 21, finding 6): the renewals screen and the account say what is true.

A renewal the kiosk itself refuses while the central store is away (its cached rules say no) is a refusal with
its reason, and nothing is queued for it; it used to be shown "Pending ... will be confirmed" and queued. A
renewal truly queued offline shows pending, and once the central store has answered it (the sync worker's push)
the patron's next view of the account says what became of it. Patrons of ``make_patrons``: P1's "The Second
Sex" is at its maximum renewals, "Gödel, Escher, Bach" is requested by P3, "Les Misérables" can be renewed.
"""
import datetime as dt

import pytest

from kiosk import outbox, sync
from kiosk.cache_db import cache_db
from library_kiosk.central.store.models import Loan
from tests.kiosk.helpers import login
from tests.store.factories import TODAY, hold, patron

HX = {"HX-Request": "true"}


def _loan_id(title: str) -> int:
    return Loan.get(Loan.title == title).id


@pytest.fixture
def offline(kiosk, kiosk_app, live_central):
    """P1 signed in at a kiosk that renews offline by its cached rules; then the central store goes away."""
    kiosk_app.config["KIOSK"]["kiosk"]["offline_renewals"] = "local"
    login(kiosk)
    central = kiosk_app.extensions["central"]
    central.base_url = "http://127.0.0.1:9"  # nothing listens there
    with kiosk_app.app_context(), cache_db.connection_context():
        sync.note_online(kiosk_app.extensions["patron_cache"], False, "test: offline")
    yield kiosk
    central.base_url = live_central.url


def _outbox_length(app) -> int:
    with app.app_context(), cache_db.connection_context():
        return outbox.length()


@pytest.mark.parametrize("title, reason", [
    ("The Second Sex", "renewed the maximum number of times"),
    ("Gödel, Escher, Bach", "Another patron has requested this item"),
])
def test_a_renewal_refused_here_offline_is_shown_refused_and_nothing_is_queued(offline, kiosk_app, title, reason):
    html = offline.post("/renew", data={"loan_id": _loan_id(title)}, headers=HX).get_data(as_text=True)
    assert "Not renewed" in html and reason in html
    assert "Pending" not in html and "will be confirmed" not in html
    assert _outbox_length(kiosk_app) == 0


def test_renew_all_offline_queues_only_what_was_granted_here(offline, kiosk_app):
    html = offline.post("/renew", headers=HX).get_data(as_text=True)
    refused = f'class="bad" data-outcome="{_loan_id("The Second Sex")}"'
    granted = f'class="pending" data-outcome="{_loan_id("Les Misérables")}"'
    assert refused in html and granted in html
    with kiosk_app.app_context(), cache_db.connection_context():
        (item,) = outbox.pending()
    import json

    queued = json.loads(item.payload)["loan_ids"]
    assert _loan_id("Les Misérables") in queued and _loan_id("The Second Sex") not in queued
    assert _loan_id("Gödel, Escher, Bach") not in queued


def _back_online(kiosk_app, live_central):
    kiosk_app.extensions["central"].base_url = live_central.url
    with kiosk_app.app_context(), cache_db.connection_context():
        report = sync.cycle(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"])
    assert report["error"] == "", report


def test_a_pending_renewal_shows_its_confirmation_on_the_next_view_of_the_account(offline, kiosk_app, live_central):
    loan_id = _loan_id("Les Misérables")
    pending = offline.post("/renew", data={"loan_id": loan_id}, headers=HX).get_data(as_text=True)
    assert "Pending" in pending
    waiting = offline.get("/account", headers=HX).get_data(as_text=True)  # still queued: no outcome yet
    assert 'data-testid="renewal-news"' not in waiting
    _back_online(kiosk_app, live_central)  # the sync worker pushes it: the central store renews it
    due = Loan.get_by_id(loan_id).due_date
    assert due == TODAY + dt.timedelta(days=21)
    html = offline.get("/account", headers=HX).get_data(as_text=True)
    assert 'data-testid="renewal-news"' in html and "your renewal is confirmed" in html
    assert f"{due.day} {due:%B %Y}" in html
    again = offline.get("/account", headers=HX).get_data(as_text=True)  # told once
    assert 'data-testid="renewal-news"' not in again


def test_a_pending_renewal_refused_at_replay_shows_the_refusal_on_the_next_view(offline, kiosk_app, live_central):
    loan_id = _loan_id("Les Misérables")
    assert "Pending" in offline.post("/renew", data={"loan_id": loan_id}, headers=HX).get_data(as_text=True)
    hold(patron("P9", barcode="20000000000099", card="04CCCCCCCCCCCC"),
         item_barcode=Loan.get_by_id(loan_id).item_barcode)  # requested at the desk meanwhile
    _back_online(kiosk_app, live_central)
    html = offline.get("/account", headers=HX).get_data(as_text=True)
    assert "Les Misérables: not renewed." in html and "Another patron has requested this item" in html
    assert Loan.get_by_id(loan_id).renewals == 0


def test_a_renewal_whose_answer_was_lost_shows_pending_then_its_outcome(kiosk, kiosk_app, live_central, monkeypatch):
    """The central store up, its answer lost on the way back (it did renew): the screen says pending (not an error,
    not refused), and once the sync worker's resend gets the stored answer the account says it was renewed."""
    from kiosk.central_client import CentralUnavailable

    login(kiosk)
    central = kiosk_app.extensions["central"]
    real = central.push_ops

    def answer_lost(ops):
        real(ops)  # applied at the central store ...
        monkeypatch.setattr(central, "push_ops", real)
        raise CentralUnavailable("read timed out")  # ... and the answer never arrives

    monkeypatch.setattr(central, "push_ops", answer_lost)
    loan_id = _loan_id("Les Misérables")
    html = kiosk.post("/renew", data={"loan_id": loan_id}, headers=HX).get_data(as_text=True)
    assert "Pending" in html and "Not renewed" not in html
    assert Loan.get_by_id(loan_id).renewals == 1  # it was renewed there
    _back_online(kiosk_app, live_central)  # the resend gets the stored answer
    html = kiosk.get("/account", headers=HX).get_data(as_text=True)
    assert "Les Misérables: your renewal is confirmed" in html
