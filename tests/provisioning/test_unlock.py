"""A patron locked out at a kiosk, at the station (issue 16, item 3): the record shows the lock (when, which kiosk,
until when), a user manager unlocks it (POST, CSRF, audited), and the record then shows it cleared, by whom and when.
The locks are made by the product's own paths: wrong PINs checked by the central API for a kiosk, and a lockout a
kiosk counted offline reported through sync. (That the unlock reaches the kiosk: tests/sync/test_unlock.py.)"""
from __future__ import annotations

import datetime as dt
import re

import pytest

from library_kiosk.central.store import pin_checks, sync_ops
from library_kiosk.central.store.models import Change
from library_kiosk.central.store.staff import AuditEntry
from library_kiosk.domain import clock
from tests.helpers import device_client
from tests.store.factories import patron


@pytest.fixture
def locked(station, central_app, device_token):
    """P1 locked at every kiosk by five wrong PINs that kiosk-1 asked the central store to check."""
    patron("P1")
    kiosk = device_client(central_app, device_token)
    for n in range(5):
        kiosk.post("/api/v1/patrons/P1/verify-pin", json={"pin": f"000{n}"})
    assert pin_checks.locked_until("P1") is not None
    return "P1"


def _lock_state(page: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r'data-testid="pin-lockout-state">(.*?)</td>', page, re.S)]


def test_the_record_shows_the_lock_when_where_and_until(locked, manager):
    page = manager.get("/patrons/P1").get_data(as_text=True)
    row = re.search(r'<tr data-testid="pin-lockout">(.*?)</tr>', page, re.S).group(1)
    until = pin_checks.locked_until("P1")
    assert ("kiosk-1" in row, f'datetime="{until:%Y-%m-%dT%H:%M}' in row, _lock_state(page)) == \
        (True, True, ["Locked"])


def test_a_lock_a_kiosk_counted_offline_and_reported_by_sync_shows_with_its_kiosk(station, manager, config):
    patron("P1")
    until = (clock.now() + dt.timedelta(minutes=10)).replace(microsecond=0).isoformat() + "Z"
    sync_ops.lockout("kiosk-7", "op-1", {"primary_id": "P1", "failed_attempts": 5, "locked_until": until},
                     {"config": config})
    page = manager.get("/patrons/P1").get_data(as_text=True)
    assert ("kiosk-7" in page, _lock_state(page), 'data-testid="unlock"' in page) == (True, ["Locked"], True)


def test_a_user_manager_unlocks_and_the_record_says_cleared_by_whom(locked, manager):
    page = manager.post("/patrons/P1/unlock").get_data(as_text=True)
    cleared_at = AuditEntry.get(AuditEntry.action == pin_checks.UNLOCK_ACTION).created
    assert (_lock_state(page)[0].startswith("Cleared by manager, 25 November 2026"),
            f'datetime="{cleared_at:%Y-%m-%dT%H:%M:%S}Z"' in page) == (True, True)


def test_the_unlock_clears_the_central_stores_lock_and_is_audited_with_the_operator(locked, manager):
    manager.post("/patrons/P1/unlock")
    entry = AuditEntry.get(AuditEntry.action == pin_checks.UNLOCK_ACTION)
    assert (pin_checks.locked_until("P1"), entry.operator, entry.primary_id) == (None, "manager", "P1")


def test_the_unlock_is_in_the_change_sequence_for_kiosks(locked, manager):
    manager.post("/patrons/P1/unlock")
    assert Change.select().where((Change.kind == "unlock") & (Change.primary_id == "P1")).count() == 1


def test_the_circulation_desk_sees_the_lock_but_may_not_unlock(locked, desk):
    page = desk.get("/patrons/P1").get_data(as_text=True)
    refused = desk.post("/patrons/P1/unlock")
    assert ('data-testid="unlock"' in page, 'data-testid="unlock-ask"' in page, refused.status_code,
            pin_checks.locked_until("P1") is not None) == (False, True, 403, True)


def test_an_unlock_without_the_forms_token_changes_nothing(locked, manager):
    refused = manager.post("/patrons/P1/unlock", csrf=False)
    assert (refused.status_code, pin_checks.locked_until("P1") is not None,
            AuditEntry.select().where(AuditEntry.action == pin_checks.UNLOCK_ACTION).count()) == (400, True, 0)


def test_a_lock_that_ended_by_itself_offers_no_unlock_and_one_asked_changes_nothing(locked, manager):
    clock.set_offset(clock.offset() + dt.timedelta(minutes=16))  # the pinned_day fixture puts the clock back
    page = manager.get("/patrons/P1").get_data(as_text=True)
    refused = manager.post("/patrons/P1/unlock")
    assert (_lock_state(page), 'data-testid="unlock"' in page, refused.status_code,
            "not locked at any kiosk" in refused.get_data(as_text=True),
            Change.select().where(Change.kind == "unlock").count()) == (["Ended by itself"], False, 409, True, 0)


def test_an_unknown_patron_is_not_found(station, manager):
    assert manager.post("/patrons/NOBODY/unlock").status_code == 404


def test_the_unlock_can_be_printed_on_a_slip(locked, manager):
    page = manager.post("/patrons/P1/unlock").get_data(as_text=True)
    entry = re.search(r'name="entry" value="(\d+)"', page).group(1)
    response = manager.post("/patrons/P1/slip", data={"channel": "print", "entry": entry})
    assert "PIN lock cleared at the desk" in response.get_data(as_text=True)
