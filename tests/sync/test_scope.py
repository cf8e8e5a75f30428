"""Kiosks hold only the patrons the library chooses (``[central] sync_recent_days``; store/sync_scope.py).

Written as the attack and as the patron: a token of a scoped kiosk pulls everything it can and must not find
an idle patron; the idle patron is still served online at a tap, and then every kiosk holds them; a patron
who leaves the window is deleted from the kiosks; a changed scope empties a kiosk's cache; an unknown card
at a scoped kiosk that cannot reach the central store is not called unregistered.
"""
import datetime as dt

import pytest

from kiosk import sync
from kiosk.cache_db import cache_db
from library_kiosk.central.store import devices, sync_scope
from library_kiosk.domain import clock
from tests.helpers import device_client
from tests.store.factories import loan, patron

DAYS = 30


@pytest.fixture
def scoped(config):
    config["central"]["sync_recent_days"] = DAYS
    return config


def _people():
    """Recent (used a kiosk 5 days ago), Borrower (borrowed 2 days ago) and Idle (a loan from 100 days ago,
    still out, and no kiosk since)."""
    recent = patron("P-RECENT", barcode="21000000000001", card="04AA000001", last_name="Recentia", pin="")
    borrower = patron("P-BORROW", barcode="21000000000002", card="04AA000002", last_name="Borrowes", pin="")
    idle = patron("P-IDLE", barcode="21000000000003", card="04AA000003", last_name="Idlewild", pin="")
    sync_scope.note_active(sync_scope.Scope(DAYS), ["P-RECENT"], clock.now() - dt.timedelta(days=5))
    loan(borrower, due=clock.today() + dt.timedelta(days=19))  # dated 21 days before it is due: 2 days ago
    loan(idle, due=clock.today() - dt.timedelta(days=79))
    return recent, borrower, idle


def _pull_all(client) -> tuple[bytes, dict]:
    """Every page a token can pull, as bytes on the wire, and the last kind sent for each primary id."""
    seen, kinds, cursor = [], {}, 0
    while True:
        page = client.get("/api/v1/sync/changes", query_string={"after": cursor, "limit": 2})
        assert page.status_code == 200
        seen.append(page.data)
        for record in page.json["records"]:
            kinds[record["primary_id"]] = record["kind"]
        assert page.json["scope"] == f"recent:{DAYS}"
        cursor = page.json["cursor"]
        if not page.json["more"]:
            return b"\n".join(seen), kinds


def test_a_scoped_token_pulls_only_the_recently_active(scoped, central_db, device_token):
    from library_kiosk.central import api as central

    _people()
    app = central.create_app(scoped)
    wire, kinds = _pull_all(device_client(app, device_token))
    assert kinds == {"P-RECENT": "upsert", "P-BORROW": "upsert", "P-IDLE": "delete"}
    assert b"Recentia" in wire and b"Borrowes" in wire
    assert b"Idlewild" not in wire  # the idle patron's name, loans and keyed identifiers never leave
    lines = device_client(app, device_token).get("/api/v1/sync/changes",
                                                  query_string={"after": 0, "limit": 50, "format": "lines"}).data
    assert b"Idlewild" not in lines and b'"scope": "recent:30"' in lines.split(b"\n")[0]


def test_an_idle_patron_is_served_at_a_tap_and_then_held_by_every_kiosk(scoped, central_db, device_token):
    from library_kiosk.central import api as central

    _people()
    app = central.create_app(scoped)
    other = device_client(app, devices.enrol(devices.add("kiosk-2"))[1])
    start = other.get("/api/v1/sync/changes", query_string={"after": 0, "limit": 500}).json["cursor"]
    tapped = device_client(app, device_token).post("/api/v1/patrons/refresh",
                                                   query_string={"identifier": "04aa000003"})
    assert tapped.status_code == 200 and tapped.json["record"]["kind"] == "upsert"
    assert tapped.json["account"]["last_name"] == "Idlewild"
    after = other.get("/api/v1/sync/changes", query_string={"after": start, "limit": 500}).json["records"]
    assert [(r["primary_id"], r["kind"]) for r in after] == [("P-IDLE", "upsert")]


def test_a_patron_who_leaves_the_window_is_deleted_from_the_kiosk(scoped, kiosk_app, central_db):
    _people()
    cache = kiosk_app.extensions["patron_cache"]
    with cache_db.connection_context():
        sync.pull(kiosk_app.extensions["central"], cache)
        assert cache.get("P-RECENT") is not None and cache.get("P-IDLE") is None
        with clock.shifted_to(clock.today() + dt.timedelta(days=DAYS - 4)):  # Recent's kiosk use: 31 days ago
            sync.pull(kiosk_app.extensions["central"], cache)
        assert cache.get("P-RECENT") is None
        assert cache.get("P-BORROW") is not None  # borrowed 28 days ago: still in


def test_a_changed_scope_empties_the_kiosk_and_fills_it_again(config, kiosk_app, central_db):
    _people()
    cache = kiosk_app.extensions["patron_cache"]
    with cache_db.connection_context():
        sync.pull(kiosk_app.extensions["central"], cache)
        assert cache.get("P-IDLE") is not None and not cache.scoped()  # every patron by default
        config["central"]["sync_recent_days"] = DAYS  # the library narrows the scope (the live app reads it)
        sync.pull(kiosk_app.extensions["central"], cache)
        assert cache.get("P-IDLE") is None and cache.get("P-RECENT") is not None and cache.scoped()


def test_a_scoped_kiosk_finds_an_idle_patron_online_and_not_offline(scoped, kiosk_app, live_central, central_db):
    _people()
    patron("P-IDLE-2", barcode="21000000000004", card="04AA000004", last_name="Idleford", pin="")
    cache = kiosk_app.extensions["patron_cache"]
    with cache_db.connection_context():
        sync.pull(kiosk_app.extensions["central"], cache)
        assert cache.get("P-IDLE") is None and cache.get("P-IDLE-2") is None
    kiosk = kiosk_app.test_client()
    found = kiosk.post("/identify", data={"identifier": "21000000000003"})
    assert found.status_code == 200 and "Enter your PIN" in found.get_data(as_text=True)  # found: their PIN next
    kiosk.post("/done")
    with cache_db.connection_context():
        assert cache.get("P-IDLE") is not None  # tapped just now: this kiosk holds them from now on
    live_central.stop()  # the central store goes away; Idleford taps
    refused = kiosk.post("/identify", data={"identifier": "21000000000004"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 503 and "This card cannot be checked just now" in html
    assert "not registered" not in html
