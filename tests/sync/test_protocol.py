"""The push protocol at the central store: idempotency keys, sequence numbers, refusals, devices."""
import json
import uuid

from library_kiosk.central.store import devices
from library_kiosk.central.store.devices import AppliedOp
from library_kiosk.central.store.kiosk_calls import StaffCall
from library_kiosk.central.store.models import Loan, User
from library_kiosk.central.store.staff import AuditEntry
from library_kiosk.domain import clock
from library_kiosk.domain.checksums import batch_checksum
from tests.helpers import NO_TOKEN, open_visit
from tests.store.factories import hold, loan, patron


def _op(seq, type_="call_staff", payload=None, key=None):
    return {"seq": seq, "key": key or uuid.uuid4().hex, "type": type_,
            "payload": payload if payload is not None else {"reason": "help", "primary_id": ""}}


def _push(api, token, ops, checksum=None):
    body = {"ops": ops, "checksum": checksum or batch_checksum(ops)}
    return api.post("/api/v1/sync/ops", json=body, headers={"Authorization": f"Bearer {token}"})


def test_each_key_applies_once_and_a_replay_gets_the_first_answer(api, device_token):
    ops = [_op(1), _op(2)]
    first = _push(api, device_token, ops)
    assert first.status_code == 200 and [r["status"] for r in first.json["results"]] == ["applied", "applied"]
    again = _push(api, device_token, ops)
    assert again.status_code == 200
    assert [r["result"] for r in again.json["results"]] == [r["result"] for r in first.json["results"]]
    assert all(r["replayed"] for r in again.json["results"])
    assert StaffCall.select().count() == 2 and AppliedOp.select().count() == 2


def test_a_key_reused_with_another_payload_is_refused(api, device_token):
    op = _op(1)
    assert _push(api, device_token, [op]).status_code == 200
    changed = dict(op, payload={"reason": "card", "primary_id": ""})
    refused = _push(api, device_token, [changed])
    assert refused.status_code == 422 and refused.json["error"]["code"] == "key_reused"
    assert StaffCall.select().count() == 1


def test_a_sequence_gap_is_refused_with_the_expected_number(api, device_token):
    refused = _push(api, device_token, [_op(3)])
    assert refused.status_code == 409 and refused.json["error"]["code"] == "sequence_gap"
    assert refused.json["expected_seq"] == 1 and StaffCall.select().count() == 0
    assert _push(api, device_token, [_op(1), _op(2), _op(3)]).status_code == 200


def test_a_push_in_progress_answers_409(api, device_token):
    import datetime as dt

    devices.Device.update(push_lease=clock.now() + dt.timedelta(seconds=30)).execute()
    refused = _push(api, device_token, [_op(1)])
    assert refused.status_code == 409 and refused.json["error"]["code"] == "in_progress"
    devices.Device.update(push_lease=None).execute()
    assert _push(api, device_token, [_op(1)]).status_code == 200


def test_business_rejections_are_recorded_and_do_not_block(api, device_token):
    patron("P1")
    visit = open_visit(api, "P1")  # the patron at this kiosk (tests/central/test_visits.py) ...
    User.delete().where(User.primary_id == "P1").execute()  # ... purged meanwhile
    ops = [_op(1, "renew", {"primary_id": "P1", "loan_ids": None, "visit": visit}),
           _op(2, "renew", {"primary_id": "NOBODY", "loan_ids": None}), _op(3)]
    answer = _push(api, device_token, ops)
    assert answer.status_code == 200
    assert [r["status"] for r in answer.json["results"]] == ["rejected", "rejected", "applied"]
    assert [r["reason"] for r in answer.json["results"][:2]] == ["patron_not_found", "no_visit"]
    conflicts = api.get("/api/v1/sync/conflicts").json["conflicts"]
    assert [c["reason"] for c in conflicts] == ["no_visit", "patron_not_found"]  # newest first


def test_corrupt_or_truncated_payloads_change_nothing(api, device_token):
    ops = [_op(1), _op(2)]
    headers = {"Authorization": f"Bearer {device_token}", "Content-Type": "application/json"}
    raw = json.dumps({"ops": ops, "checksum": batch_checksum(ops)})
    truncated = api.post("/api/v1/sync/ops", data=raw[:len(raw) // 2], headers=headers)
    assert truncated.status_code == 400 and truncated.json["error"]["code"] == "invalid_body"
    corrupt = json.loads(raw)
    corrupt["ops"][1]["payload"]["reason"] = "card"  # flipped in transit
    refused = api.post("/api/v1/sync/ops", data=json.dumps(corrupt), headers=headers)
    assert refused.status_code == 400 and refused.json["error"]["code"] == "checksum_mismatch"
    bad_type = [_op(1, "renew", {"primary_id": 5})]
    assert _push(api, device_token, bad_type).status_code == 400
    assert StaffCall.select().count() == 0 and AppliedOp.select().count() == 0
    assert devices.Device.get().last_seq == 0


def test_devices_enrol_once_and_a_revoked_device_is_refused(api):
    code = devices.add("kiosk-7")
    enrolled = api.post("/api/v1/sync/enrol", json={"code": code})
    assert enrolled.status_code == 201 and enrolled.json["device"] == "kiosk-7"
    assert api.post("/api/v1/sync/enrol", json={"code": code}).status_code == 403  # one time only
    token = enrolled.json["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/sync/changes", headers=auth).status_code == 200
    assert api.get("/api/v1/sync/changes", headers=NO_TOKEN).status_code == 401
    assert api.get("/api/v1/sync/changes", headers={"Authorization": "Bearer nope"}).status_code == 401
    devices.revoke("kiosk-7")
    assert api.get("/api/v1/sync/changes", headers=auth).status_code == 403
    assert _push(api, token, [_op(1)]).status_code == 403
    listed = {d["name"]: d for d in api.get("/api/v1/sync/devices").json["devices"]}
    assert listed["kiosk-7"]["status"] == "revoked" and listed["kiosk-7"]["last_pull"]


def test_keys_are_namespaced_per_device(api, device_token):
    other = devices.enrol(devices.add("kiosk-2"))[1]
    key = uuid.uuid4().hex
    assert _push(api, device_token, [_op(1, key=key)]).status_code == 200
    answer = _push(api, other, [_op(1, key=key)])
    assert answer.status_code == 200 and not answer.json["results"][0].get("replayed")
    assert StaffCall.select().count() == 2


def test_a_pending_renewal_refused_at_replay_sends_a_letter_and_shows_staff(api, device_token):
    user = patron("P1")
    item = loan(user, "Middlemarch", barcode="3000000000001")
    other = patron("P2", barcode="B2", card="C2")
    hold(other, item_barcode="3000000000001")  # requested meanwhile: the renewal is refused now
    op = _op(1, "renew", {"primary_id": "P1", "loan_ids": [item.id], "titles": {str(item.id): "Middlemarch"},
                          "local": [{"loan_id": item.id, "renewed": True, "new_due_date": "2026-12-16"}],
                          "visit": open_visit(api, "P1")})
    answer = _push(api, device_token, [op]).json["results"][0]
    assert answer["status"] == "applied" and answer["result"]["pending_refused"] == [item.id]
    assert Loan.get_by_id(item.id).renewals == 0
    conflict = api.get("/api/v1/sync/conflicts").json["conflicts"][0]
    assert conflict["reason"] == "renewal_refused_at_replay" and conflict["primary_id"] == "P1"
    from library_kiosk.central.store.letters import Letter

    letter = Letter.get()
    assert letter.letter_type == "RenewalRefusedLetter" and "Middlemarch" in letter.body_text
    assert conflict["letter_status"] == letter.status


def test_a_lockout_reported_later_reaches_the_audit_log(api, device_token):
    patron("P1")
    op = _op(1, "lockout", {"primary_id": "P1", "failed_attempts": 5, "locked_until": "2026-11-25T10:15:00Z"})
    assert _push(api, device_token, [op]).status_code == 200
    entry = AuditEntry.get(AuditEntry.action == "kiosk.pin_lockout")
    assert entry.primary_id == "P1" and entry.operator == "kiosk:kiosk-1"


def test_heartbeat_is_kept_with_the_device(api, device_token):
    auth = {"Authorization": f"Bearer {device_token}"}
    assert api.post("/api/v1/sync/heartbeat", json={"disk_free_mb": 1234}, headers=auth).status_code == 200
    device = api.get("/api/v1/sync/devices").json["devices"][0]
    assert device["heartbeat"] == {"disk_free_mb": 1234} and device["name"] == "kiosk-1"
    assert api.post("/api/v1/sync/heartbeat", data="[1,", headers={**auth, "Content-Type": "application/json"}
                    ).status_code == 400
