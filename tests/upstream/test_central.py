"""The central store in front of an upstream: refresh on tap, capabilities, renewals forwarded,
and offline: served from the store, renewals queued and replayed exactly once."""
import datetime as dt

import pytest

from library_kiosk.central import api as central
from library_kiosk.central.store.changes import latest_seq
from library_kiosk.central.store.models import Loan
from tests.helpers import (
    TODAY,  # the pinned day
    device_client,
    visiting,
)
from tests.store.factories import KEYER
from tests.upstream.alma_fake import example_user
from tests.upstream.sip2_servers import Library, PysipILS, pysip2_app


def make_app(config, upstream_settings):
    config["upstream"].update(upstream_settings)
    return central.create_app(config, today=lambda: TODAY)


@pytest.fixture
def alma_api(central_db, config, alma, device_token):
    fake, url = alma
    fake.add_user(example_user())
    fake.add_loan("AL1", "39000000001", "Middlemarch")
    fake.add_loan("AL1", "39000000002", "Ulysses", renewable=False)
    fake.add_request("AL1", "Beloved")
    app = make_app(config, {"kind": "alma", "alma_base_url": url, "alma_api_key": "l7xx-test",
                            "alma_max_per_second": 200, "alma_max_retries": 0, "fresh_seconds": 0})
    return fake, device_client(app, device_token), app


@pytest.fixture
def sip_api(central_db, config, device_token):
    library = Library()
    server = PysipILS(pysip2_app(library))
    app = make_app(config, {"kind": "sip2", "sip2_port": server.port, "sip2_login_user": "kiosk",
                            "sip2_login_password": "s3cret", "sip2_institution_id": "MAIN",
                            "sip2_timeout_seconds": 2, "fresh_seconds": 0})
    yield library, server, device_client(app, device_token), app
    server.stop()


def test_local_is_the_default_and_unchanged(api):
    caps = api.get("/api/v1/capabilities").json
    assert caps["kind"] == "local" and caps["renew_all"]
    assert api.application.extensions["renewal_forward"] is None


def test_alma_refresh_caches_the_account_for_kiosk_sync(alma_api):
    fake, api, _app = alma_api
    before = latest_seq()
    body = api.post("/api/v1/patrons/refresh", query_string={"identifier": "04AABBCCDDEE01"}).json
    assert body["source"] == "upstream" and body["primary_id"] == "AL1"
    assert [loan["title"] for loan in body["account"]["loans"]] == ["Middlemarch", "Ulysses"]
    assert latest_seq() > before  # kiosks pull the new account
    assert api.get("/api/v1/patrons/lookup", query_string={"identifier": "20000000000111"}).json["primary_id"] == "AL1"
    from library_kiosk.central.store.sync import changes_after

    page = changes_after(KEYER, before)
    assert page["records"][0]["account"]["requests"][0]["title"] == "Beloved"
    seq = latest_seq()
    api.post("/api/v1/patrons/refresh", query_string={"identifier": "AL1"})
    assert latest_seq() == seq  # nothing changed upstream: no change recorded
    assert api.post("/api/v1/patrons/refresh", query_string={"identifier": "nobody"}).status_code == 404
    assert api.get("/api/v1/capabilities").json["kind"] == "alma"


def test_alma_renewals_are_forwarded(alma_api):
    fake, api, _app = alma_api
    visiting(api, "AL1")  # the patron at a kiosk: card read, PIN checked (tests/central/test_visits.py)
    results = api.post("/api/v1/patrons/AL1/renew", json={}).json["results"]
    assert [(r["renewed"], r["reason"]) for r in results] == [(True, ""), (False, "not_renewable")]
    assert results[0]["new_due_date"] == "2026-12-16"
    loan = Loan.get(Loan.item_barcode == "39000000001")
    assert loan.due_date == dt.date(2026, 12, 16) and loan.renewals == 1
    # Ulysses: Alma's loan list said renewable false (expand=renewable), so it was not sent to be refused
    assert len([e for e in fake.log if e["args"].get("op") == "renew"]) == 1
    fake.not_renewable.clear()  # Alma now allows it: the next read says so and the renewal is sent
    api.post("/api/v1/patrons/refresh", query_string={"identifier": "AL1"})
    ulysses = Loan.get(Loan.item_barcode == "39000000002")
    assert api.post(f"/api/v1/patrons/AL1/loans/{ulysses.id}/renew").json["renewed"]
    assert len([e for e in fake.log if e["args"].get("op") == "renew"]) == 2


def test_alma_down_serves_from_the_store_and_replays_once(alma_api):
    fake, api, app = alma_api
    visiting(api, "AL1")  # the patron at a kiosk: card read, PIN checked (tests/central/test_visits.py)
    fake.down = True
    body = api.post("/api/v1/patrons/refresh", query_string={"identifier": "AL1"}).json
    assert body["source"] == "offline" and len(body["account"]["loans"]) == 2
    assert api.post("/api/v1/patrons/refresh", query_string={"identifier": "unknown-card"}).status_code == 503
    loan = Loan.get(Loan.item_barcode == "39000000001")
    result = api.post(f"/api/v1/patrons/AL1/loans/{loan.id}/renew").json
    assert result["renewed"]  # our own rules, on our own rows
    assert Loan.get_by_id(loan.id).due_date == TODAY + dt.timedelta(days=21)
    assert api.post("/api/v1/upstream/replay").json["pending"] == 1  # still down
    fake.down = False
    counts = api.post("/api/v1/upstream/replay").json
    assert counts == {"sent": 1, "renewed": 1, "refused": 0, "checked": 0, "pending": 0}
    assert api.post("/api/v1/upstream/replay").json["sent"] == 0  # exactly once
    api.post("/api/v1/patrons/refresh", query_string={"identifier": "AL1"})
    renews = [e for e in fake.log if e["args"].get("op") == "renew"]
    assert len(renews) == 1
    assert Loan.get_by_id(loan.id).due_date == dt.date(2026, 12, 16)  # the upstream's word wins


def test_sip2_refresh_renew_all_and_offline(sip_api):
    """Offline, a loan the ILS has just renewed to the group's loan period gets no later date from our rules:
    refused as no extension, and nothing is queued for the ILS."""
    from library_kiosk.central.upstream.models import PendingRenewal

    library, server, api, _app = sip_api
    body = api.post("/api/v1/patrons/refresh", query_string={"identifier": "21000000001"}).json
    assert body["account"]["first_name"] == "Zoë" and len(body["account"]["loans"]) == 2
    visiting(api, "21000000001")  # and her PIN checked: she may renew here
    caps = api.get("/api/v1/capabilities").json
    assert caps["kind"] == "sip2" and caps["renew_all"]
    results = api.post("/api/v1/patrons/21000000001/renew", json={}).json["results"]
    assert [(r["renewed"], r["reason"]) for r in results] == [(False, "requested"), (True, "")]  # by due date
    assert "65" in library.received
    server.stop()  # the ILS goes away
    offline = api.post("/api/v1/patrons/refresh", query_string={"identifier": "21000000001"}).json
    assert offline["source"] == "offline" and offline["account"]["first_name"] == "Zoë"
    loan = Loan.get(Loan.item_barcode == "39000000001")
    assert loan.due_date == TODAY + dt.timedelta(days=21)  # renewed by the ILS just now: as far as our rules go
    decision = api.post(f"/api/v1/patrons/21000000001/loans/{loan.id}/renew").json
    assert (decision["renewed"], decision["reason"]) == (False, "no_extension")
    assert PendingRenewal.select().count() == 0


def test_sip2_offline_renewal_is_queued_and_sent_once_when_the_ils_is_back(sip_api):
    from library_kiosk.central.upstream.models import PendingRenewal

    library, server, api, _app = sip_api
    visiting(api, "21000000001")  # the account read (and cached), the PIN checked
    server.stop()  # the ILS goes away
    loan = Loan.get(Loan.item_barcode == "39000000001")
    assert loan.due_date == dt.date(2026, 11, 28)  # Middlemarch, not renewed yet
    decision = api.post(f"/api/v1/patrons/21000000001/loans/{loan.id}/renew").json
    assert (decision["renewed"], decision["reason"]) == (True, "")  # by our own rules, on our own rows
    assert PendingRenewal.select().count() == 1
    server.__init__(pysip2_app(library))  # back, on a new port
    _app.extensions["upstream"].pool.close()
    _app.extensions["upstream"].pool.settings["sip2_port"] = server.port
    assert api.post("/api/v1/upstream/replay").json == {"sent": 1, "renewed": 1, "refused": 0, "checked": 0,
                                                           "pending": 0}
    assert api.post("/api/v1/upstream/replay").json["sent"] == 0  # exactly once
    assert library.items["39000000001"]["due"] == "20261216    235900"  # renewed at the ILS
    assert library.received.count("29") == 1


def test_alma_is_not_asked_about_loans_our_rules_already_refuse(alma_api):
    fake, api, _app = alma_api
    lost = fake.add_loan("AL1", "39000000003", "Jazz")
    lost["process_status"] = "LOST"
    worn = fake.add_loan("AL1", "39000000004", "Sula")
    worn["renewals"] = 3  # the group's maximum (our cached rule)
    visiting(api, "AL1")  # the patron at a kiosk: card read, PIN checked (tests/central/test_visits.py)
    results = api.post("/api/v1/patrons/AL1/renew", json={}).json["results"]
    by_title = {Loan.get_by_id(r["loan_id"]).title: (r["renewed"], r["reason"]) for r in results}
    assert by_title == {"Middlemarch": (True, ""), "Ulysses": (False, "not_renewable"), "Jazz": (False, "lost"),
                        "Sula": (False, "limit")}
    renewed = [e["path"].rsplit("/", 1)[1] for e in fake.log if e["args"].get("op") == "renew"]
    assert renewed == [fake.loans["AL1"][0]["loan_id"]]  # only Middlemarch: Alma said Ulysses is not renewable
    assert all(r["message"] for r in results)


def test_alma_is_not_asked_to_renew_an_item_lent_without_renewals(alma_api):
    """The items feed says the item allows no renewals (store/items.py ``renewals`` 0): our rule refuses it with
    its own reason and Alma is not asked (upstream/cache.py KNOWN_REFUSALS)."""
    from library_kiosk.central.store import items

    fake, api, _app = alma_api
    fake.add_loan("AL1", "39000000005", "Sula")
    items.Item.create(barcode="39000000005", title="Sula", library="MAIN", renewals=0)
    visiting(api, "AL1")
    results = api.post("/api/v1/patrons/AL1/renew", json={}).json["results"]
    by_title = {Loan.get_by_id(r["loan_id"]).title: (r["renewed"], r["reason"]) for r in results}
    assert by_title["Sula"] == (False, "item_no_renewals")
    sent = [e["path"].rsplit("/", 1)[1] for e in fake.log if e["args"].get("op") == "renew"]
    assert fake.loans["AL1"][-1]["loan_id"] not in sent


def test_a_hold_the_ils_reports_shows_on_the_loan_in_the_kiosk_document(sip_api):
    """No request row here names the item another patron holds: the upstream's word (SIP2's hold queue
    length, CF) is kept, so the kiosk shows the loan as requested and the store decides renewals with it."""
    from library_kiosk.central.store import sync

    library, _server, api, _app = sip_api
    body = api.post("/api/v1/patrons/refresh", query_string={"identifier": "21000000001"}).json
    flags = {loan["title"]: loan["requested_by_other"] for loan in body["account"]["loans"]}
    assert flags == {"Middlemarch": False, "Ulysses": True}
    record = sync.account_record(KEYER, "21000000001")
    assert [loan["requested_by_other"] for loan in record["account"]["loans"]] == [True, False]  # by due date
    library.items["39000000002"]["holds"] = 0  # the hold is gone at the ILS
    before = latest_seq()
    body = api.post("/api/v1/patrons/refresh", query_string={"identifier": "21000000001"}).json
    assert not any(loan["requested_by_other"] for loan in body["account"]["loans"])
    assert latest_seq() > before  # kiosks pull the change
