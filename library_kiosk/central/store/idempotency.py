"""Applying kiosks' queued operations exactly once.

Each operation a kiosk sends carries the device's sequence number and an
idempotency key (namespaced per device). ``apply_ops`` applies each key at most
once, in the same transaction as the change it makes, and stores the answer:

- a replayed key gets its first answer back;
- a key reused with a different payload is refused (``key_reused``, HTTP 422);
- a push while another push of the same device is in progress is refused
  (``in_progress``, HTTP 409; a lease of ``LEASE_SECONDS`` renewed at each operation, so a push that died with
  its server frees it within seconds);
- a sequence number that is not the next one is refused (``sequence_gap``, HTTP
  409, with ``expected_seq``) and the kiosk resends in order;
- an operation refused on business rules is recorded as ``rejected`` with its
  reason and the sequence moves on, so it never blocks the operations behind it.

A handler finds the time the kiosk made the operation (its ``created``, if it gave one) in ``context["created"]``.

Nothing outside the database happens inside these transactions: a handler that decides
a letter queues it (``library_kiosk.central.store.letters.queue_letter``, its id in ``context["letters"]``)
and the caller sends it after ``apply_ops`` returns (``library_kiosk.central.store.letters.send_queued``).
"""
from __future__ import annotations

import datetime as dt
import json

from library_kiosk.central.store.db import database, write_transaction
from library_kiosk.central.store.devices import AppliedOp, Device
from library_kiosk.central.store.models import _now
from library_kiosk.domain.checksums import canonical, op_digest

LEASE_SECONDS = 5  # a push holds its lease this long past its last operation: a dead push frees it in seconds
REFRESHES = ("renew", "checkout")  # operation types that change what a kiosk shows about the patron
MAX_OPS = 500


class OpRefused(Exception):
    """The push cannot go on at this operation (not a business rule: a protocol error)."""

    def __init__(self, status: int, code: str, message: str, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


class OpRejected(Exception):
    """The operation breaks a business rule; it is recorded as rejected and the queue moves on."""

    def __init__(self, reason: str, message: str = "", **extra):
        super().__init__(message or reason)
        self.reason, self.message, self.extra = reason, message or reason, extra


def _take_lease(device: Device) -> None:
    now = _now()
    taken = Device.update(push_lease=now + dt.timedelta(seconds=LEASE_SECONDS)).where(
        (Device.id == device.id) & (Device.push_lease.is_null() | (Device.push_lease < now))).execute()
    if not taken:
        raise OpRefused(409, "in_progress", "Another push from this device is still in progress; try again shortly.")


def _release_lease(device: Device) -> None:
    Device.update(push_lease=None).where(Device.id == device.id).execute()


def apply_ops(device: Device, ops: list[dict], handlers: dict, context: dict) -> dict:
    """Apply ``ops`` (validated) in order; return {"results": [...], "last_seq": n, "touched": [...]}.

    Stops at the first protocol refusal and raises ``OpRefused`` carrying the results so far.
    """
    _take_lease(device)
    results, touched = [], []
    try:
        last_seq = Device.select(Device.last_seq).where(Device.id == device.id).scalar()
        for op in ops:
            result = _apply_one(device, op, last_seq, handlers, context)
            results.append(result)
            if result.get("primary_id") and op["type"] in REFRESHES:
                touched.append(result["primary_id"])  # the kiosk gets this patron's fresh record back
            last_seq = max(last_seq, op["seq"]) if not result.get("replayed") else last_seq
    except OpRefused as refused:
        refused.extra.update(results=results, touched=touched)
        raise
    finally:
        _release_lease(device)
    return {"results": results, "last_seq": last_seq, "touched": touched}


def _apply_one(device: Device, op: dict, last_seq: int, handlers: dict, context: dict) -> dict:
    digest = op_digest(op)
    with write_transaction():
        existing = AppliedOp.get_or_none((AppliedOp.device == device.id) & (AppliedOp.key == op["key"]))
        if existing is not None:
            if existing.digest != digest:
                raise OpRefused(422, "key_reused", f"The key {op['key']!r} was used before with another payload.")
            return {**json.loads(existing.response), "replayed": True}
        if op["seq"] <= last_seq:
            raise OpRefused(422, "sequence_reused",
                            f"Sequence number {op['seq']} was already used by another operation.",
                            expected_seq=last_seq + 1)
        if op["seq"] != last_seq + 1:
            raise OpRefused(409, "sequence_gap", f"Expected sequence number {last_seq + 1}, got {op['seq']}.",
                            expected_seq=last_seq + 1)
        handler = handlers[op["type"]]
        context["created"] = op.get("created")  # when the kiosk queued it (store/visits.py op_time)
        answer = {"seq": op["seq"], "key": op["key"], "type": op["type"],
                  "primary_id": op["payload"].get("primary_id", "")}
        try:
            with database.atomic():  # a savepoint: a rejected operation leaves no half change behind
                answer.update(status="applied", result=handler(device.name, op["key"], op["payload"], context))
        except OpRejected as rejected:
            answer.update(status="rejected", reason=rejected.reason, message=rejected.message, result=rejected.extra)
            from library_kiosk.central.store.devices import SyncConflict

            SyncConflict.create(device=device.name, op_key=op["key"], op_type=op["type"],
                                primary_id=answer["primary_id"], reason=rejected.reason, detail=rejected.message)
        AppliedOp.create(device=device.id, key=op["key"], seq=op["seq"], op_type=op["type"], digest=digest,
                         status=answer["status"], response=canonical(answer))
        now = _now()
        Device.update(last_seq=op["seq"], last_push=now, push_lease=now + dt.timedelta(seconds=LEASE_SECONDS)).where(
            Device.id == device.id).execute()  # (the lease renewed: this push is alive)
    return answer
