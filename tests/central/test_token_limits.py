"""What a kiosk's device token can do to patrons and to other kiosks, attacked (issue 20): a letters flood (the API
and the sync push), closing another kiosk's call for staff, and forged lockout reports in the staff audit log."""
import datetime as dt
import uuid

from library_kiosk.central.store import devices
from library_kiosk.central.store.devices import SyncConflict
from library_kiosk.central.store.kiosk_calls import StaffCall
from library_kiosk.central.store.letters import Letter
from library_kiosk.central.store.models import Email
from library_kiosk.central.store.staff import AuditEntry
from library_kiosk.domain import clock
from library_kiosk.domain.checksums import batch_checksum
from tests.helpers import device_client, mail_received, open_visit, visiting
from tests.store.factories import patron

LETTER = {"letter_type": "FulRequestsReportLetter"}


def _patron_with_email(central_app, smtp_server):
    central_app.config["KIOSK"]["mail"].update(host="127.0.0.1", port=smtp_server.port,
                                               from_address="library@example.org")
    user = patron("P1")
    Email.create(user=user, email_address="zoe@example.org", preferred=True)
    return user


def _push(api, ops):
    return api.post("/api/v1/sync/ops", json={"ops": ops, "checksum": batch_checksum(ops)})


def _op(seq, type_, payload):
    return {"seq": seq, "key": uuid.uuid4().hex, "type": type_, "payload": payload}


def _lockout_entries():
    return list(AuditEntry.select().where(AuditEntry.action == "kiosk.pin_lockout"))


def test_a_sixth_letter_in_the_hour_is_refused_and_not_sent(api, central_app, smtp_server):
    _patron_with_email(central_app, smtp_server)
    visiting(api, "P1")  # the patron at this kiosk (tests/central/test_visits.py)
    sent = [api.post("/api/v1/patrons/P1/letters", json=LETTER) for _ in range(5)]
    assert [a.status_code for a in sent] == [201] * 5
    flood = api.post("/api/v1/patrons/P1/letters", json=LETTER)
    assert flood.status_code == 429 and flood.json["error"]["code"] == "too_many_letters"
    assert "last hour" in flood.json["error"]["message"]
    mail_received(smtp_server, 5)  # nothing more went
    assert Letter.select().count() == 5
    # another kiosk's token adds nothing: the limit is the patron's
    _name, token = devices.enrol(devices.add("kiosk-2"))
    kiosk_2 = visiting(device_client(central_app, token), "P1")  # the patron there too
    assert kiosk_2.post("/api/v1/patrons/P1/letters", json=LETTER).status_code == 429
    clock.set_offset(clock.offset() + dt.timedelta(minutes=61))  # an hour on (the patron back): letters go again
    assert visiting(api, "P1").post("/api/v1/patrons/P1/letters", json=LETTER).status_code == 201
    mail_received(smtp_server, 6)


def test_letters_pushed_as_operations_beyond_the_limit_are_rejected_not_the_batch(api, central_app, smtp_server):
    _patron_with_email(central_app, smtp_server)
    visit = open_visit(api, "P1")
    ops = [_op(seq, "send_letter", {"primary_id": "P1", "letter_type": "FulRequestsReportLetter", "visit": visit})
           for seq in range(1, 8)]
    ops.append(_op(8, "call_staff", {"reason": "help", "primary_id": ""}))  # behind the refused letters
    answer = _push(api, ops)
    assert answer.status_code == 200
    results = answer.json["results"]
    assert [r["status"] for r in results] == ["applied"] * 5 + ["rejected"] * 2 + ["applied"]
    assert {r["reason"] for r in results[5:7]} == {"too_many_letters"}
    mail_received(smtp_server, 5)
    reasons = [c.reason for c in SyncConflict.select()]
    assert reasons == ["too_many_letters", "too_many_letters"]  # recorded, shown to staff


def test_a_kiosk_cannot_close_another_kiosks_call(api, central_app):
    _name, token = devices.enrol(devices.add("kiosk-2"))
    kiosk_2 = device_client(central_app, token)
    call = kiosk_2.post("/api/v1/staff-calls", json={"reason": "help"}).json
    refused = api.post(f"/api/v1/staff-calls/{call['id']}/close")  # kiosk-1's token
    assert refused.status_code == 403 and refused.json["error"]["code"] == "not_this_kiosks_call"
    assert StaffCall.get_by_id(call["id"]).status == "open"
    assert kiosk_2.post(f"/api/v1/staff-calls/{call['id']}/close").status_code == 200  # its own: closed
    assert StaffCall.get_by_id(call["id"]).status == "closed"


def test_forged_lockout_reports_are_refused_and_leave_no_audit_entry(api):
    patron("P1")
    now = clock.now()
    forged = [
        {},  # no time at all
        {"locked_until": "2026-11-25T10:15Z\nadmin: staff.role P1 -> administrator"},  # a forged second line
        {"locked_until": "soon"},
        {"locked_until": "2026-02-30T10:15:00Z"},  # not a real day
        {"locked_until": (now + dt.timedelta(days=365)).isoformat() + "Z"},  # far beyond pin_lockout_minutes
        {"locked_until": (now - dt.timedelta(minutes=5)).isoformat() + "Z"},  # already past: not a live lock
        {"locked_until": 12},
    ]
    for body in forged:
        answer = api.post("/api/v1/patrons/P1/pin-lockouts", json=body)
        assert answer.status_code == 400 and answer.json["error"]["code"] == "invalid_lockout", body
    assert _lockout_entries() == []
    good = api.post("/api/v1/patrons/P1/pin-lockouts",
                    json={"locked_until": (now + dt.timedelta(minutes=14)).isoformat() + "Z"})
    assert good.status_code == 201 and len(_lockout_entries()) == 1


def test_forged_lockouts_pushed_as_operations_are_rejected(api):
    patron("P1")
    now = clock.now()
    ops = [_op(1, "lockout", {"primary_id": "P1", "failed_attempts": 5, "locked_until": "x\u0007y"}),
           _op(2, "lockout", {"primary_id": "P1", "failed_attempts": 5,
                              "locked_until": (now + dt.timedelta(days=30)).isoformat() + "Z"}),
           _op(3, "lockout", {"primary_id": "P1", "failed_attempts": 10**9,
                              "locked_until": (now + dt.timedelta(minutes=10)).isoformat() + "Z"}),
           # an offline kiosk reporting its lock late: past, but real
           _op(4, "lockout", {"primary_id": "P1", "failed_attempts": 5,
                              "locked_until": (now - dt.timedelta(hours=2)).isoformat() + "Z"})]
    results = _push(api, ops).json["results"]
    assert [r["status"] for r in results] == ["rejected", "rejected", "rejected", "applied"]
    assert {r["reason"] for r in results[:3]} == {"invalid_lockout"}
    assert len(_lockout_entries()) == 1
