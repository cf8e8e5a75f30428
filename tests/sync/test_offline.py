"""The kiosk with its central store up, down and back: outbox, offline renewals, status, lockouts."""
import datetime as dt
import sqlite3

import pytest

from kiosk import outbox, services, sync
from kiosk.cache_db import cache_db
from kiosk.pages import PageError
from library_kiosk.central.store.devices import AppliedOp
from library_kiosk.central.store.models import Loan
from library_kiosk.central.store.staff import AuditEntry
from tests.helpers import pass_time
from tests.kiosk.helpers import identify
from tests.store.factories import hold, loan, patron


@pytest.fixture
def setup(kiosk_app, central_db):
    user = patron("P1")
    first = loan(user, "Middlemarch", barcode="3000000000001")
    second = loan(user, "Beloved", barcode="3000000000002")
    with cache_db.connection_context():
        sync.pull(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"])
    return kiosk_app, user, first, second


def _go_offline(app):
    app.extensions["central"].base_url = "http://127.0.0.1:9"  # nothing listens there
    with app.app_context():
        sync.note_online(app.extensions["patron_cache"], False, "test: offline")


def _come_back(app, url):
    app.extensions["central"].base_url = url


def test_online_renewal_goes_through_the_outbox_and_comes_back_applied(setup):
    app, _user, first, _second = setup
    with app.test_request_context(), cache_db.connection_context():
        account, visit = identify("20000000000011")  # card and PIN: the patron's visit at the central store
        outcomes = services.renew(account, [first.id], visit)
        assert outcomes[0].renewed and not outcomes[0].pending
        assert outbox.length() == 0
        assert services.get_patron("P1").loan(first.id).renewals == 1  # refreshed from the push answer
    assert Loan.get_by_id(first.id).renewals == 1 and AppliedOp.select().count() == 1


def test_offline_refuse_policy_queues_nothing(setup):
    app, *_ = setup
    _go_offline(app)
    from kiosk.central_client import CentralUnavailable

    with app.test_request_context(), cache_db.connection_context():
        assert services.central_online() is False
        with pytest.raises(CentralUnavailable):
            services.renew(services.get_patron("P1"), None)
        assert outbox.length() == 0


def test_offline_local_policy_decides_pending_then_replays_exactly_once(setup, live_central):
    app, user, first, second = setup
    app.config["KIOSK"]["kiosk"]["offline_renewals"] = "local"
    _go_offline(app)
    pass_time(minutes=2)  # an outage: the central store hears nothing from this kiosk meanwhile
    with app.test_request_context(), cache_db.connection_context():
        account, visit = identify("20000000000011")  # from the cache: no visit at the central store
        assert visit == ""
        outcomes = services.renew(account, [first.id, second.id], visit)
        assert [o.pending for o in outcomes] == [True, True] and all(o.renewed for o in outcomes)
        assert services.get_patron("P1").loan(first.id).renewals == 1  # shown at once, from the cache
        assert outbox.length() == 1
        status = sync.status(app.extensions["patron_cache"])
        assert status["online"] is False and status["outbox_length"] == 1 and status["oldest_pending"]
    # meanwhile someone requests the second item at the central store
    hold(patron("P2", barcode="B2", card="C2"), item_barcode="3000000000002")
    pass_time(minutes=2)
    _come_back(app, live_central.url)  # its first request records the gap: the renewal was made within it
    with app.test_request_context(), cache_db.connection_context():
        report = sync.cycle(app.extensions["central"], app.extensions["patron_cache"])
        assert report["error"] == "" and outbox.length() == 0
        sync.cycle(app.extensions["central"], app.extensions["patron_cache"])  # a second round changes nothing
        status = sync.status(app.extensions["patron_cache"])
        assert status["online"] and status["rejected"][0]["status"] == "conflict"
        assert services.get_patron("P1").loan(second.id).renewals == 0  # the central store's answer wins
    assert Loan.get_by_id(first.id).renewals == 1 and Loan.get_by_id(second.id).renewals == 0
    assert AppliedOp.select().count() == 1


def test_lockout_while_offline_is_reported_on_reconnect(setup, live_central):
    app, *_ = setup
    _go_offline(app)
    with app.test_request_context(), cache_db.connection_context():
        assert services.record_lockout("P1", dt.datetime(2026, 11, 25, 10, 0)) is False
        assert outbox.length() == 1
    assert AuditEntry.select().count() == 0
    _come_back(app, live_central.url)
    with app.test_request_context(), cache_db.connection_context():
        sync.cycle(app.extensions["central"], app.extensions["patron_cache"])
        assert outbox.length() == 0
    assert AuditEntry.get().action == "kiosk.pin_lockout"


def test_status_route_and_identification_offline(setup):
    app, *_ = setup
    _go_offline(app)
    client = app.test_client()
    status = client.get("/sync/status").json
    assert status["online"] is False and status["patrons"] == 1 and status["device"] == "kiosk-1"
    with app.test_request_context(), cache_db.connection_context():
        assert services.find_patron("20000000000011").primary_id == "P1"  # identified from the cache


def test_a_malformed_page_changes_nothing(setup):
    app, *_ = setup
    cache = app.extensions["patron_cache"]
    with cache_db.connection_context():
        before = cache.cursor()
        bad = {"cursor": before + 5, "more": False, "records": [
            {"seq": before + 1, "primary_id": "P9", "kind": "upsert", "account": {"primary_id": "P9"},
             "identifiers": []},
            {"seq": before + 2, "primary_id": "P8", "kind": "upsert"}]}  # truncated record
        with pytest.raises(PageError):
            cache.apply_page(bad)
        with pytest.raises(PageError):
            cache.apply_page({"cursor": before, "records": []})
        assert cache.cursor() == before and cache.count() == 1


def test_cache_runs_with_synchronous_full(setup, config):
    with cache_db.connection_context():
        assert cache_db.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    path = config["kiosk"]["cache_url"][len("sqlite:///"):]
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    connection.close()
