"""The kiosk keeps the patron's visit at the central store and acts within it (issue 20; the central side and the
attacks on it: tests/central/test_visits.py).

An online tap opens the visit (``g.visit`` from the read through), the PIN or the password checked there verifies
it, and the session keeps it: renewals (outbox operations) and letters carry it. A patron identified offline has
none, and what is queued for them is accepted as made while the kiosk was out of contact."""
from __future__ import annotations

import hashlib

from flask.sessions import session_json_serializer

from kiosk import outbox, sync
from kiosk.cache import cache_db
from kiosk.sessions import store
from library_kiosk.central.store.devices import SyncConflict
from library_kiosk.central.store.models import Loan, User
from library_kiosk.central.store.visits import DeviceGap, Visit
from library_kiosk.domain.hashing import hash_secret
from tests.helpers import mail_received, pass_time
from tests.kiosk.helpers import HX

PASSWORD = "Orchid-lantern-73"


def _session(kiosk_app, client) -> dict:
    """What the kiosk keeps for this browser's session (kiosk/sessions.py)."""
    kept = store(kiosk_app).stored(client.get_cookie("session").value)
    return session_json_serializer.loads(kept) if kept else {}


def _visit_of(kiosk_app, client) -> Visit:
    visit = _session(kiosk_app, client).get("visit", "")
    assert visit, "the session keeps no visit"
    return Visit.get(Visit.digest == hashlib.sha256(visit.encode()).hexdigest())  # only its digest is stored


def _loan(title: str) -> int:
    return Loan.get(Loan.title == title).id


def _offline(kiosk_app) -> str:
    """The central store stops answering this kiosk; its URL, to come back to."""
    client = kiosk_app.extensions["central"]
    url, client.base_url = client.base_url, "http://127.0.0.1:9"  # nothing listens there
    with kiosk_app.app_context(), cache_db.connection_context():
        sync.note_online(kiosk_app.extensions["patron_cache"], False, "test: offline")
    return url


def _back(kiosk_app, url: str) -> None:
    """The central store answers again; the sync worker's next cycle (pull, then push)."""
    kiosk_app.extensions["central"].base_url = url
    with kiosk_app.test_request_context(), cache_db.connection_context():
        assert sync.cycle(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"])["error"] == ""
        assert outbox.length() == 0


def test_an_online_tap_and_pin_give_the_session_a_verified_visit_and_a_renewal_goes_within_it(kiosk, kiosk_app):
    kiosk.post("/identify", data={"identifier": "20000000000011"})
    visit = _visit_of(kiosk_app, kiosk)
    assert (visit.device, visit.primary_id, visit.verified) == ("kiosk-1", "P1", False)  # the PIN is still to come
    kiosk.post("/pin", data={"pin": "2468"})
    assert _visit_of(kiosk_app, kiosk).id == visit.id and Visit.get_by_id(visit.id).verified  # the same, verified
    html = kiosk.post("/renew", data={"loan_id": str(_loan("Les Misérables"))}, headers=HX).get_data(as_text=True)
    assert "1 of 1 renewed." in html
    assert Loan.get_by_id(_loan("Les Misérables")).renewals == 1 and SyncConflict.select().count() == 0


def test_a_patron_who_needs_no_pin_acts_within_the_visit_the_tap_opened(kiosk, kiosk_app):
    kiosk.post("/identify", data={"identifier": "20000000000033"})  # P3, a guest: no PIN
    assert _visit_of(kiosk_app, kiosk).verified
    html = kiosk.post("/renew", headers=HX).get_data(as_text=True)
    assert "renewed" in html and SyncConflict.select().count() == 0


def test_a_letter_goes_within_the_visit(kiosk, kiosk_app, smtp_server):
    kiosk.post("/identify", data={"identifier": "20000000000011"})
    kiosk.post("/pin", data={"pin": "2468"})
    html = kiosk.post("/requests-report", headers=HX).get_data(as_text=True)
    assert "Sent to your email address." in html
    assert mail_received(smtp_server, 1)[0]["To"] == "zoe@example.org"


def test_the_password_sign_in_gives_the_session_a_verified_visit(kiosk, kiosk_app):
    User.update(password_hash=hash_secret(PASSWORD)).where(User.primary_id == "P1").execute()
    kiosk.post("/sign-in", data={"user_name": "20000000000011", "password": PASSWORD})
    visit = _visit_of(kiosk_app, kiosk)
    assert visit.primary_id == "P1" and visit.verified and Visit.select().count() == 1  # the tap's, verified
    html = kiosk.post("/renew", data={"loan_id": str(_loan("Les Misérables"))}, headers=HX).get_data(as_text=True)
    assert "1 of 1 renewed." in html


def test_a_renewal_queued_offline_is_applied_after_the_outage(kiosk, kiosk_app):
    kiosk_app.config["KIOSK"]["kiosk"]["offline_renewals"] = "local"
    url = _offline(kiosk_app)
    pass_time(minutes=3)  # out of contact: the central store hears nothing from this kiosk
    kiosk.post("/identify", data={"identifier": "20000000000011"})  # from the cache
    assert kiosk.post("/pin", data={"pin": "2468"}).status_code == 200  # the offline check value
    assert "visit" not in _session(kiosk_app, kiosk)
    html = kiosk.post("/renew", data={"loan_id": str(_loan("Les Misérables"))}, headers=HX).get_data(as_text=True)
    assert "Pending" in html
    pass_time(minutes=3)
    _back(kiosk_app, url)  # its first request records the gap, within which the renewal was made
    assert DeviceGap.select().count() == 1
    assert Loan.get_by_id(_loan("Les Misérables")).renewals == 1 and SyncConflict.select().count() == 0


def test_a_renewal_made_offline_within_a_visit_opened_online_is_applied_however_short_the_outage(kiosk, kiosk_app):
    kiosk_app.config["KIOSK"]["kiosk"]["offline_renewals"] = "local"
    kiosk.post("/identify", data={"identifier": "20000000000011"})
    kiosk.post("/pin", data={"pin": "2468"})  # online: a verified visit
    url = _offline(kiosk_app)  # a few seconds' outage: no gap is recorded
    html = kiosk.post("/renew", data={"loan_id": str(_loan("Les Misérables"))}, headers=HX).get_data(as_text=True)
    assert "Pending" in html
    _back(kiosk_app, url)
    assert DeviceGap.select().count() == 0
    assert Loan.get_by_id(_loan("Les Misérables")).renewals == 1 and SyncConflict.select().count() == 0


def test_an_offline_renewal_the_central_store_cannot_place_is_rejected_and_reported(kiosk, kiosk_app):
    """The bound: a kiosk that thinks itself offline for less than ``[central] offline_gap_seconds`` leaves no gap,
    so what it queued for a patron it identified from its cache is rejected (``no_visit``), changes nothing, and
    is shown to staff at both ends."""
    kiosk_app.config["KIOSK"]["kiosk"]["offline_renewals"] = "local"
    url = _offline(kiosk_app)
    kiosk.post("/identify", data={"identifier": "20000000000011"})
    kiosk.post("/pin", data={"pin": "2468"})
    kiosk.post("/renew", data={"loan_id": str(_loan("Les Misérables"))}, headers=HX)
    _back(kiosk_app, url)
    assert Loan.get_by_id(_loan("Les Misérables")).renewals == 0
    assert [c.reason for c in SyncConflict.select()] == ["no_visit"]
    with kiosk_app.app_context(), cache_db.connection_context():
        rejected = sync.status(kiosk_app.extensions["patron_cache"])["rejected"]
    assert [(r["type"], r["reason"]) for r in rejected] == [("renew", "no_visit")]
