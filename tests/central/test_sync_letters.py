"""Letters decided by kiosk operations (central/sync_api.py, store/sync_ops.py) go out once, after commit.

A pending renewal refused at replay queues a RenewalRefusedLetter in the operation's transaction; the push
sends it after the commit, and the heartbeat (each kiosk's sync cycle) sweeps up what a crash or a mail
server outage left queued. A real SMTP server (aiosmtpd) counts what arrives.
"""
import datetime as dt
import uuid

import peewee as pw

from library_kiosk.central.store import letters
from library_kiosk.central.store.devices import AppliedOp, Device, SyncConflict
from library_kiosk.central.store.idempotency import apply_ops
from library_kiosk.central.store.models import Email, _now
from library_kiosk.central.store.sync_ops import HANDLERS
from library_kiosk.domain.checksums import batch_checksum
from tests.helpers import TODAY, free_port, open_visit
from tests.store.factories import hold, loan, patron


def _refused_renewal(api, seq=1):
    """A patron with an email address whose offline renewal the central store now refuses; the operation (made in
    the patron's visit at the kiosk: tests/central/test_visits.py)."""
    user = patron("P1")
    Email.create(user=user, email_address="zoe@example.org", preferred=True)
    item = loan(user, "Middlemarch", barcode="3000000000001")
    hold(patron("P2", barcode="B2", card="C2"), item_barcode="3000000000001")  # requested meanwhile
    return {"seq": seq, "key": uuid.uuid4().hex, "type": "renew",
            "payload": {"primary_id": "P1", "loan_ids": [item.id], "titles": {str(item.id): "Middlemarch"},
                        "visit": open_visit(api, "P1"),
                        "local": [{"loan_id": item.id, "renewed": True, "new_due_date": "2026-12-16"}]}}


def _call(seq):
    return {"seq": seq, "key": uuid.uuid4().hex, "type": "call_staff", "payload": {"reason": "help", "primary_id": ""}}


def _push(api, ops):
    return api.post("/api/v1/sync/ops", json={"ops": ops, "checksum": batch_checksum(ops)})


def _use(config, server):
    config["mail"].update(host="127.0.0.1", port=server.port if server else free_port(), timeout_seconds=2)


def _fail_once(monkeypatch, model, op_type):
    """The transaction recording an operation of ``op_type`` fails at its end (as a PostgreSQL serialization
    failure or a crash would): everything the operation did in it rolls back."""
    real = model.create

    def create(**fields):
        if fields.get("op_type") == op_type and not failed:
            failed.append(True)
            raise pw.OperationalError("could not serialize access due to concurrent update")
        return real(**fields)

    failed = []
    monkeypatch.setattr(model, "create", create)


def test_a_rolled_back_operation_sends_no_letter_and_its_retry_sends_one(api, config, smtp_server, monkeypatch):
    _use(config, smtp_server)
    op = _refused_renewal(api)
    _fail_once(monkeypatch, AppliedOp, "renew")
    failed = _push(api, [op])
    assert failed.status_code == 500
    assert smtp_server.handler.messages == [] and letters.Letter.select().count() == 0
    assert SyncConflict.select().count() == 0 and AppliedOp.select().count() == 0

    again = _push(api, [op])  # the kiosk resends: the operation is applied now, and its letter sent once
    assert again.status_code == 200
    answer = again.json["results"][0]
    assert answer["result"]["pending_refused"] and answer["result"]["letter"] == "queued"
    assert len(smtp_server.handler.messages) == 1
    message = smtp_server.handler.messages[0]
    assert message["To"] == "zoe@example.org" and "Middlemarch" in message.get_payload()[0].get_payload(
        decode=True).decode()
    letter = letters.Letter.get()
    assert letter.status == "sent" and letter.letter_type == "RenewalRefusedLetter"
    assert letters.queued_count() == 0
    assert api.get("/api/v1/sync/conflicts").json["conflicts"][0]["letter_status"] == "sent"

    replayed = _push(api, [op])  # a lost answer: the replay gets the first answer back, and no second email
    assert replayed.json["results"][0]["replayed"] and replayed.json["results"][0]["result"] == answer["result"]
    assert len(smtp_server.handler.messages) == 1 and letters.Letter.select().count() == 1


def test_an_error_later_in_the_batch_sends_the_committed_letter_once(api, config, smtp_server, monkeypatch):
    _use(config, smtp_server)
    ops = [_refused_renewal(api, 1), _call(2)]
    _fail_once(monkeypatch, AppliedOp, "call_staff")
    assert _push(api, ops).status_code == 500
    assert len(smtp_server.handler.messages) == 1  # the renewal committed before the failure: its letter went
    again = _push(api, ops)
    assert again.status_code == 200 and again.json["results"][0]["replayed"]
    assert again.json["results"][1]["status"] == "applied"
    assert len(smtp_server.handler.messages) == 1 and letters.Letter.get().status == "sent"


def test_a_letter_left_queued_by_a_crash_is_sent_once_by_the_heartbeat(api, config, smtp_server):
    _use(config, smtp_server)
    op = _refused_renewal(api)
    device = Device.get(Device.name == "kiosk-1")
    # the batch committed, then the process died before sending: the letter is queued, nothing went out
    apply_ops(device, [op], HANDLERS, {"today": lambda: TODAY, "config": config})
    letter = letters.Letter.get()
    assert letter.status == "queued" and smtp_server.handler.messages == []
    assert SyncConflict.get().letter_status == "queued"

    assert api.post("/api/v1/sync/heartbeat", json={}).status_code == 200  # any kiosk's next sync cycle
    assert len(smtp_server.handler.messages) == 1
    assert letters.Letter.get_by_id(letter.id).status == "sent" and SyncConflict.get().letter_status == "sent"
    assert api.post("/api/v1/sync/heartbeat", json={}).status_code == 200
    assert len(smtp_server.handler.messages) == 1
    assert _push(api, [op]).json["results"][0]["replayed"] and len(smtp_server.handler.messages) == 1


def test_with_the_mail_server_down_the_letter_stays_queued_and_goes_later(api, config, smtp_server):
    _use(config, None)  # nothing listens there
    op = _refused_renewal(api)
    answer = _push(api, [op])
    assert answer.status_code == 200 and answer.json["results"][0]["result"]["letter"] == "queued"
    letter = letters.Letter.get()
    assert letter.status == "queued" and "did not accept the message" in letter.error
    queued = letters.LetterQueue.get()
    assert queued.attempts == 1 and queued.next_attempt > _now() and queued.claimed_until is None
    assert SyncConflict.get().letter_status == "queued"

    _use(config, smtp_server)  # the server is back
    api.post("/api/v1/sync/heartbeat", json={})
    assert smtp_server.handler.messages == []  # its back-off is not over yet
    letters.LetterQueue.update(next_attempt=_now() - dt.timedelta(seconds=1)).execute()
    api.post("/api/v1/sync/heartbeat", json={})
    assert len(smtp_server.handler.messages) == 1
    letter = letters.Letter.get()
    assert letter.status == "sent" and letter.error == "" and letters.queued_count() == 0
    assert SyncConflict.get().letter_status == "sent"
    api.post("/api/v1/sync/heartbeat", json={})
    assert _push(api, [op]).json["results"][0]["replayed"] and len(smtp_server.handler.messages) == 1
