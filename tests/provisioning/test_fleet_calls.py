"""The kiosk fleet (administrators), staff calls and PIN lockouts, and sync conflicts (circulation
and up): roles, CSRF, the quiet boundary, revoking a device, closing a call, the conflicts list."""
import datetime as dt
import json
import re
import uuid

import pytest

from library_kiosk.central.store import devices, kiosk_calls
from library_kiosk.central.store.models import User
from library_kiosk.central.store.staff import LOGIN_ACTIONS, AuditEntry
from library_kiosk.domain.checksums import batch_checksum
from tests.helpers import open_visit
from tests.provisioning.helpers import StaffClient, not_logged_in
from tests.store.factories import hold, loan, patron

NOW = dt.datetime(2026, 11, 25, 10, 0, 0)
FLEET_GETS = ["/fleet", "/fleet/table"]
CIRCULATION_GETS = ["/calls", "/calls/list", "/calls/badge", "/conflicts"]
POSTS = {"/fleet/revoke": {"name": "kiosk-1"}, "/calls/close": {"call_id": "1"}}


@pytest.fixture
def admin(station):
    station.config["NOW"] = lambda: NOW
    return StaffClient(station, "admin")


def _enrolled(name, heartbeat_at=None, heartbeat=None):
    token = devices.enrol(devices.add(name))[1]
    if heartbeat_at is not None:
        devices.Device.update(last_heartbeat=heartbeat_at, heartbeat=json.dumps(heartbeat or {})).where(
            devices.Device.name == name).execute()
    return token


def _row(page: str, name: str) -> str:
    found = re.search(rf'<tr data-testid="device-{re.escape(name)}"[^>]*>.*?</tr>', page, re.S)
    assert found, f"no row for {name}"
    return found.group(0)


def test_new_pages_refuse_anonymous_users(station):
    _enrolled("kiosk-1")
    call = kiosk_calls.create_call("kiosk-1", "help")
    client = station.test_client()
    for path in FLEET_GETS + CIRCULATION_GETS:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.location, path
        assert client.get(path, headers={"HX-Request": "true"}).status_code == 401, path
    anonymous = not_logged_in(station)
    for path, data in POSTS.items():
        assert anonymous.post(path, data).status_code == 401, path
    assert devices.Device.get().status == "active"
    assert kiosk_calls.StaffCall.get_by_id(call.id).status == "open"


def test_the_fleet_is_for_administrators_only(station):
    _enrolled("kiosk-1")
    for username in ("desk", "manager"):
        client = StaffClient(station, username)
        for path in FLEET_GETS:
            assert client.get(path).status_code == 403, (username, path)
        assert client.post("/fleet/revoke", {"name": "kiosk-1"}).status_code == 403
        assert "Kiosk fleet" not in client.get("/").get_data(as_text=True)
    assert devices.Device.get().status == "active" and not AuditEntry.select().where(
        AuditEntry.action == "device.revoke").exists()
    for path in CIRCULATION_GETS:  # circulation and up
        assert StaffClient(station, "desk").get(path).status_code == 200, path
    admin = StaffClient(station, "admin")
    for path in FLEET_GETS + CIRCULATION_GETS:
        assert admin.get(path).status_code == 200, path


def test_the_new_forms_need_a_valid_csrf_token(admin, desk):
    _enrolled("kiosk-1")
    call = kiosk_calls.create_call("kiosk-1", "help")
    for token in (None, "forged-token"):
        extra = {} if token is None else {"csrf_token": token}
        assert admin.post("/fleet/revoke", {"name": "kiosk-1", **extra}, csrf=False).status_code == 400
        assert desk.post("/calls/close", {"call_id": str(call.id), **extra}, csrf=False).status_code == 400
    assert devices.Device.get().status == "active"
    assert kiosk_calls.StaffCall.get_by_id(call.id).status == "open"
    assert not AuditEntry.select().where(AuditEntry.operator.in_(["admin", "desk"])
                                         & AuditEntry.action.not_in(LOGIN_ACTIONS)).exists()


def test_quiet_is_more_than_the_threshold_since_the_last_heartbeat(admin, station):
    beat = {"version": "1.4.2", "uptime_seconds": 93784, "outbox_length": 3,
            "readers": [{"name": "Desk reader", "online": True}, {"name": "Scanner", "online": False}],
            "errors": [{"at": "2026-11-25T09:49:00Z", "message": "reader service timed out"}]}
    _enrolled("kiosk-at", NOW - dt.timedelta(minutes=10), beat)  # exactly at the threshold: not quiet
    _enrolled("kiosk-past", NOW - dt.timedelta(minutes=11), beat)  # one minute past: quiet
    _enrolled("kiosk-never")  # enrolled, never heard from: quiet
    devices.add("kiosk-pending")  # waiting for enrolment, never heard from: quiet
    _enrolled("kiosk-gone", NOW - dt.timedelta(hours=5))
    devices.revoke("kiosk-gone")  # revoked: not highlighted
    page = admin.get("/fleet").get_data(as_text=True)
    quiet = {name: 'data-quiet="yes"' in _row(page, name)
             for name in ("kiosk-at", "kiosk-past", "kiosk-never", "kiosk-pending", "kiosk-gone")}
    assert quiet == {"kiosk-at": False, "kiosk-past": True, "kiosk-never": True, "kiosk-pending": True,
                     "kiosk-gone": False}
    at = _row(page, "kiosk-at")
    for shown in ("1.4.2", "1 d 2 h", "1 online", "1 offline (Scanner)", "reader service timed out",
                  "10 min ago", "2026-11-25 09:50:00"):
        assert shown in at, shown
    assert ">3<" in at
    assert "never" in _row(page, "kiosk-never") and "revoked" in _row(page, "kiosk-gone")
    assert 'hx-trigger="every 30s"' in page
    assert "5 devices, 3 quiet" in page

    station.config["KIOSK"]["provisioning"]["fleet_quiet_minutes"] = 11  # configurable
    table = admin.get("/fleet/table", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<h1>" not in table and 'data-quiet="no"' in _row(table, "kiosk-past")
    station.config["NOW"] = lambda: NOW + dt.timedelta(seconds=1)
    table = admin.get("/fleet/table", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-quiet="yes"' in _row(table, "kiosk-past")


def test_a_heartbeat_sent_through_sync_shows_on_the_fleet_page(station, api, device_token):
    from kiosk.heartbeat import collect

    beat = collect({"readers": {"service_url": "http://127.0.0.1:9"}, "kiosk": {"device_name": "kiosk-1"}})
    beat["sync"] = {"outbox_length": 0}
    auth = {"Authorization": f"Bearer {device_token}"}
    assert api.post("/api/v1/sync/heartbeat", json=beat, headers=auth).status_code == 200
    page = StaffClient(station, "admin").get("/fleet").get_data(as_text=True)
    row = _row(page, "kiosk-1")
    assert 'data-quiet="no"' in row and "reader service http://127.0.0.1:9" in row


def test_revoking_at_the_station_refuses_the_device_from_its_next_request(station, api, device_token):
    auth = {"Authorization": f"Bearer {device_token}"}
    assert api.get("/api/v1/sync/changes", headers=auth).status_code == 200
    admin = StaffClient(station, "admin")
    page = admin.get("/fleet").get_data(as_text=True)
    assert "hx-confirm=\"Revoke kiosk kiosk-1?" in page
    answer = admin.post("/fleet/revoke", {"name": "kiosk-1"}, headers={"HX-Request": "true"})
    assert answer.status_code == 200 and "kiosk-1 is revoked" in answer.get_data(as_text=True)
    assert devices.Device.get(devices.Device.name == "kiosk-1").status == "revoked"
    refused = api.get("/api/v1/sync/changes", headers=auth)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "device_revoked"
    assert api.post("/api/v1/sync/heartbeat", json={}, headers=auth).status_code == 403
    entry = AuditEntry.get(AuditEntry.action == "device.revoke")
    assert entry.operator == "admin" and "kiosk-1" in entry.detail
    assert admin.post("/fleet/revoke", {"name": "kiosk-1"}).status_code == 409  # already revoked
    assert admin.post("/fleet/revoke", {"name": "no-such-kiosk"}).status_code == 404


def test_closing_a_staff_call_and_the_lockouts_newest_first(desk, station):
    patron("P1", first_name="Ada", last_name="Held")
    first = kiosk_calls.create_call("kiosk-1", "card", "P1")
    second = kiosk_calls.create_call("kiosk-2", "help")
    AuditEntry.create(operator="kiosk:kiosk-1", action="kiosk.pin_lockout", primary_id="P1",
                      detail="older lockout", created=NOW - dt.timedelta(hours=2))
    AuditEntry.create(operator="kiosk:kiosk-2", action="kiosk.pin_lockout", primary_id="P1",
                      detail="newer lockout", created=NOW - dt.timedelta(minutes=5))
    page = desk.get("/calls").get_data(as_text=True)
    assert "Problem with a card" in page and "Needs help" in page and 'href="/patrons/P1"' in page
    assert page.index("newer lockout") < page.index("older lockout")
    assert re.search(r'data-testid="calls-badge"[^>]*>2</span>', page)
    assert 'hx-trigger="every 10s"' in page
    answer = desk.post("/calls/close", {"call_id": str(first.id)}, headers={"HX-Request": "true"})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "Call from kiosk-1 closed." in text
    assert f'data-testid="call-{first.id}"' not in text and f'data-testid="call-{second.id}"' in text
    assert re.search(r'data-testid="calls-badge"[^>]*hx-swap-oob="true">1</span>', text)  # the nav badge too
    assert kiosk_calls.StaffCall.get_by_id(first.id).status == "closed"
    entry = AuditEntry.get(AuditEntry.action == "kiosk.call_closed")
    assert entry.operator == "desk" and entry.primary_id == "P1" and "kiosk-1" in entry.detail
    assert desk.post("/calls/close", {"call_id": str(first.id)}).status_code == 409  # once only
    assert desk.post("/calls/close", {"call_id": "x"}).status_code == 400
    assert [c.id for c in kiosk_calls.open_calls()] == [second.id]


def _op(seq, type_, payload):
    return {"seq": seq, "key": uuid.uuid4().hex, "type": type_, "payload": payload}


def test_sync_conflicts_are_listed_with_the_patron_the_promise_and_the_letter(station, api, device_token, desk,
                                                                              smtp_server):
    user = patron("P1", first_name="Ada", last_name="Held")
    user.emails.model.create(user=user, email_address="ada@example.org", preferred=True)
    item = loan(user, "Middlemarch", barcode="3000000000001")
    hold(patron("P2", barcode="B2", card="C2"), item_barcode="3000000000001")  # requested meanwhile
    patron("GONE", barcode="B3", card="C3")
    visits = {primary_id: open_visit(api, primary_id) for primary_id in ("P1", "GONE")}  # each at the kiosk ...
    User.delete().where(User.primary_id == "GONE").execute()  # ... and one purged since
    ops = [_op(1, "renew", {"primary_id": "P1", "loan_ids": [item.id], "titles": {str(item.id): "Middlemarch"},
                            "local": [{"loan_id": item.id, "renewed": True, "new_due_date": "2026-12-16"}],
                            "visit": visits["P1"]}),
           _op(2, "renew", {"primary_id": "GONE", "loan_ids": None, "visit": visits["GONE"]}),
           _op(3, "renew", {"primary_id": "P1", "loan_ids": None})]  # no visit, and the kiosk never offline
    pushed = api.post("/api/v1/sync/ops", json={"ops": ops, "checksum": batch_checksum(ops)},
                      headers={"Authorization": f"Bearer {device_token}"})
    assert pushed.status_code == 200
    page = desk.get("/conflicts").get_data(as_text=True)
    rows = re.findall(r'<tr data-testid="conflict-\d+">.*?</tr>', page, re.S)
    assert len(rows) == 3
    no_visit, gone, refused = rows  # newest first
    assert "Not made while the patron was at that kiosk" in no_visit and "Ada Held (P1)" in no_visit
    assert 'href="/patrons/P1"' in refused and "Ada Held (P1)" in refused
    assert "Middlemarch (3000000000001)" in refused and "renewal: renewed until 2026-12-16" in refused
    assert "Renewal refused at replay" in refused and "kiosk-1" in refused
    assert re.search(r'data-testid="letter">sent<', refused)
    assert "GONE (no longer in the store)" in gone and "Patron no longer exists" in gone
    assert "nothing (refused)" in gone
    assert len(smtp_server.handler.messages) == 1  # the patron's letter went out


def test_the_lists_say_when_they_are_empty(desk):
    assert 'data-testid="no-conflicts"' in desk.get("/conflicts").get_data(as_text=True)
    page = desk.get("/calls").get_data(as_text=True)
    assert 'data-testid="no-calls"' in page and 'data-testid="no-lockouts"' in page


def test_polling_does_not_keep_an_idle_session_alive(station, monkeypatch):
    import time as real_time
    from types import SimpleNamespace

    client = StaffClient(station, "admin")
    start = real_time.time()
    for minutes in (5, 10, 14):  # the pages poll by themselves while nobody touches the station
        monkeypatch.setattr("provisioning.auth.time", SimpleNamespace(time=lambda m=minutes: start + m * 60))
        for path in ("/calls/list", "/calls/badge", "/fleet/table"):
            assert client.get(path, headers={"HX-Request": "true"}).status_code == 200, path
    monkeypatch.setattr("provisioning.auth.time", SimpleNamespace(time=lambda: start + 16 * 60))
    response = client.get("/calls/list", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"].endswith("/login")
