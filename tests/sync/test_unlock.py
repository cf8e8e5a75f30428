"""A PIN lock cleared at the station reaches the kiosk that holds it through sync (issue 16, item 3).

End to end: a real kiosk (its Flask app, its SQLite cache, its sync over HTTP) and a real central store (served over
HTTP), the station's Flask app on the same database. The patron is locked by wrong PINs typed at the kiosk, a user
manager unlocks at the station, the kiosk runs its sync, and the right PIN is accepted there again."""
from __future__ import annotations

import datetime as dt

import pytest

from kiosk import lockout, sync
from kiosk.cache_db import cache_db
from kiosk.pages import PageError, parse_lines
from library_kiosk.central.store import fleet_keys, pin_checks
from library_kiosk.central.store import sync as central_sync
from library_kiosk.central.store.devices import Device
from library_kiosk.central.store.models import Change
from library_kiosk.central.store.staff import AuditEntry
from library_kiosk.domain import clock
from tests.kiosk.helpers import make_patrons, pin_refused_offline
from tests.provisioning.helpers import StaffClient

BARCODE = "20000000000011"  # P1, PIN 2468 (tests/kiosk/helpers.py make_patrons)


@pytest.fixture
def wired(kiosk_app, central_db, station):
    """The kiosk synced with the central store, its test client, and a user manager at the station."""
    make_patrons()
    _pull(kiosk_app)
    return kiosk_app, kiosk_app.test_client(), StaffClient(station, "manager")


def _pull(kiosk_app) -> int:
    with cache_db.connection_context():
        return sync.pull(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"])


def _push(kiosk_app) -> None:
    with cache_db.connection_context():
        sync.push(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"])


def _pin(kiosk, pin: str):
    """Scan the card and type ``pin``; a card locked here is refused at the scan (423) and no PIN is asked."""
    tapped = kiosk.post("/identify", data={"identifier": BARCODE})
    if tapped.status_code == 423:
        return tapped
    return kiosk.post("/pin", data={"pin": pin})


def _lock_online(kiosk) -> None:
    for _ in range(5):
        _pin(kiosk, "1111")
    assert _pin(kiosk, "2468").status_code == 423  # locked: even the right PIN is refused


def _go_offline(app):
    app.extensions["central"].base_url = "http://127.0.0.1:9"  # nothing listens there
    with app.app_context(), cache_db.connection_context():
        sync.note_online(app.extensions["patron_cache"], False, "test: offline")


def _come_back(app, url):
    app.extensions["central"].base_url = url
    with app.app_context(), cache_db.connection_context():
        sync.note_online(app.extensions["patron_cache"], True)


def _accepted(response) -> bool:
    return response.status_code == 200 and "Middlemarch" in response.get_data(as_text=True)


def test_an_unlock_at_the_station_ends_the_kiosks_lock_after_its_next_sync(wired):
    app, kiosk, manager = wired
    _lock_online(kiosk)
    manager.post("/patrons/P1/unlock")
    _pull(app)
    assert _accepted(_pin(kiosk, "2468"))


def test_before_its_next_sync_the_kiosk_keeps_its_lock(wired):
    app, kiosk, manager = wired
    _lock_online(kiosk)
    manager.post("/patrons/P1/unlock")
    assert _pin(kiosk, "2468").status_code == 423


def test_a_lock_counted_at_the_kiosk_offline_is_reported_then_unlocked_through_sync(wired, live_central):
    app, kiosk, manager = wired
    wrong = pin_refused_offline(app)
    _go_offline(app)
    for _ in range(5):
        _pin(kiosk, wrong)
    assert _pin(kiosk, "2468").status_code == 423  # counted and locked here, offline
    _come_back(app, live_central.url)
    _push(app)  # the lockout report reaches the station's record
    page = manager.get("/patrons/P1").get_data(as_text=True)
    assert 'data-testid="unlock"' in page and "kiosk-1" in page
    manager.post("/patrons/P1/unlock")
    _pull(app)
    assert _accepted(_pin(kiosk, "2468"))


def test_an_offline_kiosk_gets_the_unlock_when_it_syncs_again(wired, live_central):
    app, kiosk, manager = wired
    _lock_online(kiosk)
    _go_offline(app)
    manager.post("/patrons/P1/unlock")
    with cache_db.connection_context():
        report = sync.cycle(app.extensions["central"], app.extensions["patron_cache"])
    assert report["error"] and _pin(kiosk, "2468").status_code == 423  # the unlock waits in the feed
    _come_back(app, live_central.url)
    _pull(app)
    assert _accepted(_pin(kiosk, "2468"))


def test_the_lockout_shows_in_the_record_as_cleared_by_whom_and_when(wired):
    _app, kiosk, manager = wired
    _lock_online(kiosk)
    manager.post("/patrons/P1/unlock")
    [lock] = pin_checks.lockouts("P1")
    assert (lock.device, lock.cleared_by, lock.cleared_at is not None, lock.active()) == \
        ("kiosk-1", "manager", True, False)


# --- the page's unlocks, as the kiosk's cache applies them ---

def _keyer(kiosk_app):
    return fleet_keys.keyer_for(Device.get(Device.name == kiosk_app.extensions["device_name"]))


def test_a_page_carries_the_unlock_in_its_head_with_its_time(wired):
    app, kiosk, manager = wired
    _lock_online(kiosk)
    cursor = Change.select(Change.seq).order_by(Change.seq.desc()).scalar()
    manager.post("/patrons/P1/unlock")
    unlocked_at = Change.get(Change.kind == "unlock").created
    page = parse_lines(central_sync.changes_lines(_keyer(app), cursor))
    assert page["unlocks"] == {"P1": unlocked_at.isoformat() + "Z"}


def test_a_page_without_unlocks_has_no_unlocks_field(wired):
    app, *_ = wired
    assert "unlocks" not in parse_lines(central_sync.changes_lines(_keyer(app), 0))


def _counted_at(moment: dt.datetime) -> None:
    with cache_db.connection_context():
        for _ in range(5):
            lockout.failure("P1", 5, 15, now=moment)


def _apply_unlock(app, at: dt.datetime) -> None:
    cache = app.extensions["patron_cache"]
    with cache_db.connection_context():
        cache.apply_page({"cursor": cache.cursor(), "more": False, "records": [],
                          "unlocks": {"P1": at.isoformat() + "Z"}})


def test_the_cache_clears_a_lock_made_before_the_unlock(wired):
    app, *_ = wired
    now = clock.now()
    _counted_at(now - dt.timedelta(minutes=2))
    _apply_unlock(app, now)
    with cache_db.connection_context():
        assert lockout.locked_until("P1", now=now) is None


def test_the_cache_keeps_a_lock_made_after_the_unlock(wired):
    """Wrong PINs typed here after staff unlocked (this kiosk had not synced yet) still count."""
    app, *_ = wired
    now = clock.now()
    _counted_at(now)
    _apply_unlock(app, now - dt.timedelta(minutes=1))
    with cache_db.connection_context():
        assert lockout.locked_until("P1", now=now) is not None


@pytest.mark.parametrize("unlocks", [["P1"], {"P1": 5}, {"P1": "yesterday"}, {"P1": "2026-11-25T12:00:00+01:00"}],
                         ids=["a-list", "a-number", "not-a-time", "not-utc"])
def test_a_page_with_garbled_unlocks_is_refused_and_changes_nothing(wired, unlocks):
    app, *_ = wired
    now = clock.now()
    _counted_at(now - dt.timedelta(minutes=2))
    cache = app.extensions["patron_cache"]
    with cache_db.connection_context():
        cursor = cache.cursor()
        with pytest.raises(PageError):
            cache.apply_page({"cursor": cursor + 1, "more": False, "records": [], "unlocks": unlocks})
        assert (cache.cursor(), lockout.locked_until("P1", now=now) is not None) == (cursor, True)


def test_nothing_locked_nothing_unlocked(wired):
    """An unlock with no lock held writes nothing: no change for kiosks, no audit entry."""
    _app, _kiosk, manager = wired
    changes_before = Change.select().count()
    response = manager.post("/patrons/P1/unlock")
    assert (response.status_code, Change.select().count(),
            AuditEntry.select().where(AuditEntry.action == pin_checks.UNLOCK_ACTION).count()) == \
        (409, changes_before, 0)
