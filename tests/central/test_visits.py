"""A kiosk's device token acts for a patron only within a visit the central store knows of (issue 20), attacked.

store/visits.py: a visit is opened when a patron identifies at a kiosk (``POST /api/v1/patrons/refresh``) and
verified when the patron's group needs no PIN, or by a right PIN or password checked there with it. The live
per-patron routes need ``X-Kiosk-Visit`` naming this kiosk's live, verified visit of that patron (403
``visit_required``); pushed renewals and letters carry it in their payload, or were made while the kiosk was out
of contact (a recorded gap), else they are rejected ``no_visit``. Every refusal changes nothing."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest

from library_kiosk.central.store import devices, visits
from library_kiosk.central.store.devices import Device, SyncConflict
from library_kiosk.central.store.letters import Letter
from library_kiosk.central.store.models import Email, Loan
from library_kiosk.central.store.visits import DeviceGap, Visit
from library_kiosk.domain import clock
from library_kiosk.domain.checksums import batch_checksum
from tests.helpers import device_client, mail_received, open_visit, pass_time, visit_header
from tests.store.factories import fine, group, hold, loan, patron

LETTER = {"letter_type": "FulRequestsReportLetter"}


@pytest.fixture
def library(central_app, smtp_server):
    """P1 and P2 (PIN 2468), P3 of a group that needs no PIN; each with a loan, P1 with a request, a fee and an
    email address. Their loans' ids."""
    central_app.config["KIOSK"]["mail"].update(host="127.0.0.1", port=smtp_server.port,
                                               from_address="library@example.org")
    first = patron("P1", barcode="20000000000011", card="04A1B2C3D4E5F6")
    Email.create(user=first, email_address="zoe@example.org", preferred=True)
    hold(first)
    fine(first)
    second = patron("P2", barcode="20000000000022", card="04FFFFFFFFFFFF")
    Email.create(user=second, email_address="jose@example.org", preferred=True)
    group("58", description="Library Guest", pin_required=False)
    guest = patron("P3", barcode="20000000000033", card="04AAAAAAAAAAAA", group_code="58")
    Email.create(user=guest, email_address="guest@example.org", preferred=True)
    return {user.primary_id: loan(user, f"Book of {user.primary_id}").id for user in (first, second, guest)}


def _live(primary_id: str, loan_id: int) -> list[tuple[str, str, dict | None]]:
    """(method, URL, JSON body) of every live route that acts for a patron."""
    base = f"/api/v1/patrons/{primary_id}"
    return [("GET", base, None), ("GET", base + "/loans", None), ("GET", base + "/requests", None),
            ("GET", base + "/fees", None), ("POST", f"{base}/loans/{loan_id}/renew", None),
            ("POST", base + "/renew", {}), ("POST", base + "/letters", LETTER)]


def _state() -> tuple:
    """What a refused request must leave as it was: loans, letters, and every visit as last used."""
    return ([(row.id, row.due_date, row.renewals) for row in Loan.select().order_by(Loan.id)],
            Letter.select().count(),
            [(row.digest, row.last_used, row.verified) for row in Visit.select().order_by(Visit.id)])


def _all_refused(client, primary_id: str, loan_id: int, headers: dict | None = None) -> set[str]:
    """Every live route for ``primary_id``, refused with 403 ``visit_required``; their messages."""
    messages = set()
    for method, url, body in _live(primary_id, loan_id):
        answer = client.open(url, method=method, json=body, headers=headers or {})
        assert (answer.status_code, answer.json["error"]["code"]) == (403, "visit_required"), (method, url)
        messages.add(answer.json["error"]["message"])
    return messages


def _all_served(client, primary_id: str, loan_id: int, headers: dict) -> None:
    for method, url, body in _live(primary_id, loan_id):
        answer = client.open(url, method=method, json=body, headers=headers)
        assert answer.status_code in (200, 201), (method, url, answer.json)


def _push(client, ops):
    return client.post("/api/v1/sync/ops", json={"ops": ops, "checksum": batch_checksum(ops)})


def _op(seq, type_, payload, created=None):
    op = {"seq": seq, "key": uuid.uuid4().hex, "type": type_, "payload": payload}
    if created is not None:
        op["created"] = created.replace(microsecond=0).isoformat() + "Z"
    return op


def _renewal(seq, primary_id, loan_id, visit=None, created=None):
    payload = {"primary_id": primary_id, "loan_ids": [loan_id]}
    if visit is not None:
        payload["visit"] = visit
    return _op(seq, "renew", payload, created)


def _kiosk_2(central_app):
    return device_client(central_app, devices.enrol(devices.add("kiosk-2"))[1])


def test_a_token_without_a_visit_can_neither_read_nor_renew_nor_email_a_patron(api, library, smtp_server):
    api.get("/api/v1/sync/changes")  # the kiosk's first contact (noted once, then at most every 10 s)
    before = _state()
    messages = _all_refused(api, "P1", library["P1"])
    assert any("X-Kiosk-Visit" in m for m in messages)
    for forged in ("", "x" * 32, "P1", "a" * 500, "20000000000011"):  # nothing guessable or borrowed opens one
        _all_refused(api, "P1", library["P1"], visit_header(forged))
    _all_refused(api, "NOBODY", 1)  # nor does the answer tell whether a patron exists
    assert _state() == before
    mail_received(smtp_server, 0)


def test_the_refresh_opens_a_visit_kept_only_as_a_digest_and_a_no_pin_patron_may_act_at_once(api, library):
    read = api.post("/api/v1/patrons/refresh", query_string={"identifier": "20000000000033"})  # P3's card
    visit = read.json["visit"]
    assert read.status_code == 200 and isinstance(visit, str) and len(visit) == 32
    row = Visit.get()
    assert (row.device, row.primary_id, row.verified) == ("kiosk-1", "P3", True)
    assert visit not in {row.digest for row in Visit.select()}  # only its SHA-256 is stored
    _all_served(api, "P3", library["P3"], visit_header(visit))
    assert Loan.get_by_id(library["P3"]).renewals == 1  # renewed (renewing all then finds no later date)


def test_patron_a_visit_cannot_act_for_patron_b(api, library, smtp_server):
    visit = open_visit(api, "P1")
    before = _state()
    _all_refused(api, "P2", library["P2"], visit_header(visit))
    _all_refused(api, "P3", library["P3"], visit_header(visit))
    assert _state()[:2] == before[:2]
    mail_received(smtp_server, 0)
    assert api.get("/api/v1/patrons/P1", headers=visit_header(visit)).status_code == 200  # its own patron: yes


def test_one_kiosks_visit_is_refused_to_another_kiosks_token(api, central_app, library, smtp_server):
    kiosk_2 = _kiosk_2(central_app)
    visit = open_visit(api, "P1")  # the patron is at kiosk-1
    before = _state()
    _all_refused(kiosk_2, "P1", library["P1"], visit_header(visit))
    assert _state()[:2] == before[:2]
    answer = _push(kiosk_2, [_renewal(1, "P1", library["P1"], visit)]).json["results"][0]
    assert (answer["status"], answer["reason"]) == ("rejected", "no_visit")
    assert Loan.get_by_id(library["P1"]).renewals == 0 and mail_received(smtp_server, 0) == []


def test_another_kiosk_cannot_verify_a_visit_it_did_not_open(api, central_app, library):
    unverified = api.post("/api/v1/patrons/refresh", query_string={"identifier": "P1"}).json["visit"]
    checked = _kiosk_2(central_app).post("/api/v1/patrons/P1/verify-pin", json={"pin": "2468", "visit": unverified})
    assert checked.json["ok"] and checked.json["visit"] != unverified  # kiosk-2 got a visit of its own
    refused = api.get("/api/v1/patrons/P1", headers=visit_header(unverified))
    assert refused.status_code == 403 and "PIN" in refused.json["error"]["message"]  # still unverified at kiosk-1


def test_a_pin_patrons_visit_is_refused_until_a_right_pin_is_checked_with_it(api, library):
    visit = api.post("/api/v1/patrons/refresh", query_string={"identifier": "04A1B2C3D4E5F6"}).json["visit"]
    assert not Visit.get().verified
    before = _state()
    messages = _all_refused(api, "P1", library["P1"], visit_header(visit))
    assert all("PIN has not been checked" in m for m in messages)
    wrong = api.post("/api/v1/patrons/P1/verify-pin", json={"pin": "1111", "visit": visit}).json
    assert wrong["ok"] is False and "visit" not in wrong
    _all_refused(api, "P1", library["P1"], visit_header(visit))
    other = api.post("/api/v1/patrons/P2/verify-pin", json={"pin": "2468", "visit": visit}).json  # P2's PIN
    assert other["ok"] and other["visit"] != visit  # verifies P2's own new visit, not P1's
    _all_refused(api, "P1", library["P1"], visit_header(visit))
    assert _state()[:2] == before[:2]
    right = api.post("/api/v1/patrons/P1/verify-pin", json={"pin": "2468", "visit": visit}).json
    assert right["ok"] and right["visit"] == visit  # the same visit, now verified
    _all_served(api, "P1", library["P1"], visit_header(visit))


def test_a_right_pin_without_a_visit_opens_a_verified_one(api, library):
    answer = api.post("/api/v1/patrons/P1/verify-pin", json={"pin": "2468"}).json  # the sign-in without a card
    assert answer["ok"] and Visit.get().verified
    assert api.get("/api/v1/patrons/P1/loans", headers=visit_header(answer["visit"])).status_code == 200


def test_a_visit_ends_when_unused_for_visit_minutes_and_each_use_extends_it(api, central_app, library):
    visit = open_visit(api, "P1")
    for _ in range(3):  # 42 minutes in all, never 15 without a use
        pass_time(minutes=14)
        assert api.get("/api/v1/patrons/P1", headers=visit_header(visit)).status_code == 200
    pass_time(minutes=15, seconds=1)
    before = _state()
    messages = _all_refused(api, "P1", library["P1"], visit_header(visit))
    assert all("has ended" in m for m in messages) and _state() == before
    visit = open_visit(api, "P1")  # the patron taps again
    central_app.config["KIOSK"]["central"]["visit_minutes"] = 2  # [central] visit_minutes
    pass_time(minutes=2, seconds=1)
    _all_refused(api, "P1", library["P1"], visit_header(visit))
    # an ended visit is not verified again by a right PIN: a new one is opened
    renewed = api.post("/api/v1/patrons/P1/verify-pin", json={"pin": "2468", "visit": visit}).json
    assert renewed["ok"] and renewed["visit"] != visit


def test_a_pushed_renewal_without_a_visit_outside_any_gap_is_rejected_and_changes_no_loan(api, library):
    api.get("/api/v1/sync/changes")  # the kiosk in contact all along: no gap is recorded
    past = clock.now() - dt.timedelta(hours=3)  # dated before anything: still no gap covers it
    future = clock.now() + dt.timedelta(days=3)  # dated ahead: taken as now
    ops = [_renewal(1, "P1", library["P1"]), _renewal(2, "P1", library["P1"], created=past),
           _renewal(3, "P1", library["P1"], created=future), _renewal(4, "P3", library["P3"], visit="x" * 32),
           _op(5, "send_letter", {"primary_id": "P1", "letter_type": "FulRequestsReportLetter"}),
           # a lockout report and a call for staff protect the patron rather than act for them: no visit needed
           _op(6, "lockout", {"primary_id": "P1", "failed_attempts": 5,
                              "locked_until": (clock.now() + dt.timedelta(minutes=5)).isoformat() + "Z"}),
           _op(7, "call_staff", {"reason": "help", "primary_id": "P1"})]
    results = _push(api, ops).json["results"]
    assert [(r["status"], r.get("reason")) for r in results] == [("rejected", "no_visit")] * 5 + [
        ("applied", None), ("applied", None)]
    assert "no visit" in results[0]["message"]
    assert [Loan.get_by_id(i).renewals for i in library.values()] == [0, 0, 0]
    assert Letter.select().count() == 0
    assert [c.reason for c in SyncConflict.select()] == ["no_visit"] * 5  # shown to staff as any rejection


def test_a_pushed_renewal_made_while_the_kiosk_was_out_of_contact_is_applied(api, library):
    api.post("/api/v1/sync/heartbeat", json={})  # the last contact before the outage
    before_outage = clock.now()
    pass_time(minutes=4)
    made_offline = clock.now()  # the patron identified from the kiosk's cache, and renewed
    pass_time(minutes=3)
    ops = [_renewal(1, "P1", library["P1"], created=made_offline),
           _renewal(2, "P2", library["P2"], created=before_outage - dt.timedelta(minutes=10)),  # before the gap
           _op(3, "send_letter", {"primary_id": "P1", "letter_type": "FulRequestsReportLetter"},
               created=made_offline)]
    results = _push(api, ops).json["results"]  # the first request back records the gap
    assert [(r["status"], r.get("reason")) for r in results] == [("applied", None), ("rejected", "no_visit"),
                                                                ("applied", None)]
    gap = DeviceGap.get()
    assert gap.device == "kiosk-1" and gap.started <= before_outage + dt.timedelta(seconds=1)
    assert gap.ended - gap.started >= dt.timedelta(minutes=7)
    assert Loan.get_by_id(library["P1"]).renewals == 1 and Loan.get_by_id(library["P2"]).renewals == 0


def test_a_gap_is_recorded_only_beyond_offline_gap_seconds_and_contact_is_written_sparingly(api, central_app,
                                                                                           library):
    device = Device.get(Device.name == "kiosk-1")
    api.get("/api/v1/sync/changes")
    first = Device.get_by_id(device.id).last_contact
    pass_time(seconds=5)
    api.get("/api/v1/sync/changes")
    assert Device.get_by_id(device.id).last_contact == first  # at most every 10 s
    pass_time(seconds=20)  # 25 s since the last contact written: not a gap
    api.get("/api/v1/sync/changes")
    assert DeviceGap.select().count() == 0
    central_app.config["KIOSK"]["central"]["offline_gap_seconds"] = 60
    pass_time(seconds=50)
    api.get("/api/v1/sync/changes")
    assert DeviceGap.select().count() == 0
    pass_time(seconds=61)
    api.get("/api/v1/sync/changes")
    assert DeviceGap.select().count() == 1
    # two requests arriving together after a silence record the gap once
    pass_time(minutes=5)
    stale = Device.get_by_id(device.id)
    rules = visits.VisitRules.from_config(central_app.config["KIOSK"]["central"])
    assert visits.note_contact(stale, rules) is not None
    assert visits.note_contact(Device.get_by_id(device.id), rules) is None
    assert visits.note_contact(stale, rules) is None
    assert DeviceGap.select().count() == 2


def test_pushed_operations_within_the_patrons_visit_are_applied_and_not_once_it_has_ended(api, central_app,
                                                                                         library, smtp_server):
    central_app.config["KIOSK"]["central"]["offline_gap_seconds"] = 3600  # no gap in this test: the visit decides
    visit = open_visit(api, "P1")
    other = open_visit(api, "P2")
    opened = clock.now()
    results = _push(api, [_renewal(1, "P1", library["P1"], visit),
                          _op(2, "send_letter", {"primary_id": "P1", "letter_type": "FulRequestsReportLetter",
                                                 "visit": visit}),
                          _renewal(3, "P1", library["P1"], other)]).json["results"]  # P2's visit, for P1
    assert [(r["status"], r.get("reason")) for r in results] == [("applied", None), ("applied", None),
                                                                ("rejected", "no_visit")]
    assert Loan.get_by_id(library["P1"]).renewals == 1 and len(mail_received(smtp_server, 1)) == 1
    later = loan(Loan.get_by_id(library["P1"]).user, "Another book").id
    pass_time(minutes=40)
    # queued within the visit (the kiosk went offline), pushed later: applied; queued after it ended: rejected
    results = _push(api, [_renewal(4, "P1", later, visit, created=opened + dt.timedelta(minutes=10)),
                          _renewal(5, "P1", later, visit, created=opened + dt.timedelta(minutes=30)),
                          _renewal(6, "P1", later, visit)]).json["results"]
    assert [(r["status"], r.get("reason")) for r in results] == [("applied", None), ("rejected", "no_visit"),
                                                                ("rejected", "no_visit")]
    assert Loan.get_by_id(later).renewals == 1


def test_an_unverified_visit_does_not_carry_a_pushed_renewal(api, central_app, library):
    central_app.config["KIOSK"]["central"]["offline_gap_seconds"] = 3600
    unverified = api.post("/api/v1/patrons/refresh", query_string={"identifier": "P1"}).json["visit"]
    answer = _push(api, [_renewal(1, "P1", library["P1"], unverified)]).json["results"][0]
    assert (answer["status"], answer["reason"]) == ("rejected", "no_visit")
    assert Loan.get_by_id(library["P1"]).renewals == 0


def test_an_operations_time_must_be_a_utc_timestamp(api, library):
    op = _renewal(1, "P1", library["P1"])
    for created in ("yesterday", "2026-11-25 10:00:00", "2026-02-30T10:00:00Z", 1764064800):
        refused = _push(api, [{**op, "created": created}])
        assert refused.status_code == 400 and "created" in refused.json["error"]["message"], created
    assert Device.get(Device.name == "kiosk-1").last_seq == 0


def test_a_visit_the_kiosk_ended_serves_nothing_more_and_only_its_kiosk_may_end_it(api, central_app, library,
                                                                                 smtp_server):
    central_app.config["KIOSK"]["central"]["offline_gap_seconds"] = 3600  # no gap here: the visit decides
    visit = open_visit(api, "P1")
    made = clock.now()
    assert _kiosk_2(central_app).post("/api/v1/patrons/P1/visit/end", headers=visit_header(visit)).json == {
        "ended": False}  # another kiosk's token: nothing changes
    assert api.post("/api/v1/patrons/P2/visit/end", headers=visit_header(visit)).json == {"ended": False}
    assert api.get("/api/v1/patrons/P1", headers=visit_header(visit)).status_code == 200  # still open
    pass_time(seconds=5)
    assert api.post("/api/v1/patrons/P1/visit/end", headers=visit_header(visit)).json == {"ended": True}
    assert api.post("/api/v1/patrons/P1/visit/end", headers=visit_header(visit)).json == {"ended": False}
    assert _all_refused(api, "P1", library["P1"], visit_header(visit)) == {  # Done: no live route any more
        "This visit has ended: the patron left this kiosk and must identify again."}
    pass_time(minutes=2)  # (beyond the kiosk clock's allowance)
    results = _push(api, [_renewal(1, "P1", library["P1"], visit, created=made),  # made during the visit
                          _renewal(2, "P1", library["P1"], visit)]).json["results"]  # made after Done
    assert [(r["status"], r.get("reason")) for r in results] == [("applied", None), ("rejected", "no_visit")]
    assert Loan.get_by_id(library["P1"]).renewals == 1
