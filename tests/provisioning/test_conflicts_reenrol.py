"""Marking sync conflicts as dealt with (circulation and up) and re-enrolling a kiosk from the fleet
page (administrators): who and when, the open and dealt-with lists, the htmx row swap, the one-time
code shown once, the old credential refused, roles, CSRF, audit."""
import re

import pytest

from library_kiosk.central.store import devices
from library_kiosk.central.store.devices import SyncConflict, SyncConflictDealt
from library_kiosk.central.store.staff import AuditEntry
from tests.provisioning.helpers import StaffClient, not_logged_in
from tests.store.factories import patron


def _conflict(primary_id="P1", key="k1", reason="renewal_refused_at_replay"):
    return SyncConflict.create(device="kiosk-1", op_key=key, op_type="renew", primary_id=primary_id, reason=reason,
                               detail="loan 9 (Middlemarch): requested by another patron", letter_status="sent")


def _rows(page):
    return re.findall(r'<tr data-testid="conflict-(\d+)">', page)


@pytest.fixture
def admin(station):
    return StaffClient(station, "admin")


def test_a_conflict_marked_as_dealt_with_leaves_the_open_list_with_who_and_when(desk, station):
    patron("P1", first_name="Ada", last_name="Held")
    first, second = _conflict(key="a"), _conflict(key="b", primary_id="GONE", reason="patron_not_found")
    page = desk.get("/conflicts").get_data(as_text=True)
    assert _rows(page) == [str(second.id), str(first.id)]
    assert f'data-testid="deal-{first.id}"' in page and 'href="/conflicts?dealt=1"' in page
    swapped = desk.post("/conflicts/dealt", {"id": str(first.id)}, headers={"HX-Request": "true"})
    row = swapped.get_data(as_text=True)
    assert swapped.status_code == 200 and row.strip().startswith(f'<tr data-testid="conflict-{first.id}">')
    assert "<h1>" not in row and "Dealt with by desk" in row and "Mark as dealt with" not in row
    dealt = SyncConflictDealt.get(SyncConflictDealt.conflict == first.id)
    assert dealt.operator == "desk" and dealt.created is not None
    assert _rows(desk.get("/conflicts").get_data(as_text=True)) == [str(second.id)]
    done = desk.get("/conflicts?dealt=1").get_data(as_text=True)
    assert _rows(done) == [str(first.id)]
    assert 'Dealt with by desk, <time datetime="' + dealt.created.strftime("%Y-%m-%d") in done
    assert "Ada Held (P1)" in done
    entry = AuditEntry.get(AuditEntry.action == "conflict.dealt_with")
    assert entry.operator == "desk" and entry.primary_id == "P1" and f"Sync conflict {first.id}" in entry.detail

    again = StaffClient(station, "manager").post("/conflicts/dealt", {"id": str(first.id)})
    assert again.status_code == 409 and "already marked as dealt with by desk" in again.get_data(as_text=True)
    assert SyncConflictDealt.get(SyncConflictDealt.conflict == first.id).operator == "desk"
    assert desk.post("/conflicts/dealt", {"id": "999999"}).status_code == 404
    assert desk.post("/conflicts/dealt", {"id": "x"}).status_code == 404
    plain = desk.post("/conflicts/dealt", {"id": str(second.id)})  # without htmx: the page again
    assert plain.status_code == 200 and "No open sync conflicts." in plain.get_data(as_text=True)
    assert AuditEntry.select().where(AuditEntry.action == "conflict.dealt_with").count() == 2


def test_marking_a_conflict_needs_a_login_and_a_valid_csrf_token(desk, station):
    conflict = _conflict()
    assert not_logged_in(station).post("/conflicts/dealt", {"id": str(conflict.id)}).status_code == 401
    for token in (None, "forged-token"):
        extra = {} if token is None else {"csrf_token": token}
        assert desk.post("/conflicts/dealt", {"id": str(conflict.id), **extra}, csrf=False).status_code == 400
    assert not SyncConflictDealt.select().exists()
    assert not AuditEntry.select().where(AuditEntry.action == "conflict.dealt_with").exists()


def test_reenrolling_shows_a_new_code_once_and_refuses_the_old_credential(station, api, device_token, admin):
    auth = {"Authorization": f"Bearer {device_token}"}
    assert api.get("/api/v1/sync/changes", headers=auth).status_code == 200
    page = admin.get("/fleet").get_data(as_text=True)
    assert 'data-testid="reenrol-kiosk-1"' in page and 'hx-confirm="Re-enrol kiosk kiosk-1?' in page
    assert 'data-testid="enrolment-code"' not in page
    answer = admin.post("/fleet/reenrol", {"name": "kiosk-1"}, headers={"HX-Request": "true"})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "<h1>" not in text
    assert '<div id="fleet-table"' in text and 'id="enrolment-code" aria-live="polite" hx-swap-oob="true"' in text
    code = re.search(r'data-testid="code">([0-9A-F-]+)<', text).group(1)
    assert f"kiosk enrol {code}" in text and "kiosk-1 must be enrolled again" in text
    device = devices.Device.get(devices.Device.name == "kiosk-1")
    assert device.status == "pending" and device.token_digest is None and device.code_digest != code
    assert code not in "".join(str(v) for v in device.__data__.values())  # only its digest is kept
    assert api.get("/api/v1/sync/changes", headers=auth).status_code == 401  # the old token is refused
    assert code not in admin.get("/fleet").get_data(as_text=True)  # shown once
    assert code not in admin.get("/fleet/table", headers={"HX-Request": "true"}).get_data(as_text=True)
    name, token = devices.enrol(code)
    assert name == "kiosk-1"
    assert api.get("/api/v1/sync/changes", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    entry = AuditEntry.get(AuditEntry.action == "device.reenrol")
    assert entry.operator == "admin" and "kiosk-1" in entry.detail and code not in entry.detail
    plain = admin.post("/fleet/reenrol", {"name": "kiosk-1"})  # without htmx: the whole page with the code
    assert plain.status_code == 200 and 'data-testid="enrolment-code"' in plain.get_data(as_text=True)
    assert "<h1>Kiosk fleet</h1>" in plain.get_data(as_text=True)
    assert admin.post("/fleet/reenrol", {"name": "no-such-kiosk"}).status_code == 404


def test_reenrolling_is_for_administrators_with_a_valid_csrf_token(station, device_token, admin):
    before = devices.Device.get(devices.Device.name == "kiosk-1").token_digest
    for username in ("desk", "manager"):
        assert StaffClient(station, username).post("/fleet/reenrol", {"name": "kiosk-1"}).status_code == 403
    assert not_logged_in(station).post("/fleet/reenrol", {"name": "kiosk-1"}).status_code == 401
    for token in (None, "forged-token"):
        extra = {} if token is None else {"csrf_token": token}
        assert admin.post("/fleet/reenrol", {"name": "kiosk-1", **extra}, csrf=False).status_code == 400
    device = devices.Device.get(devices.Device.name == "kiosk-1")
    assert device.status == "active" and device.token_digest == before
    assert not AuditEntry.select().where(AuditEntry.action == "device.reenrol").exists()
