"""Kiosk devices: enrolment, credentials, revocation, and what staff see of each kiosk.

An administrator adds a device (``kiosk devices add NAME``) and gets a one-time
enrolment code; the kiosk exchanges the code for its own device token
(``kiosk enrol CODE``). Only SHA-256 digests of codes and tokens are stored (both
are long random strings, so a fast digest is enough); revoking a device takes
effect at its next request. The device row also keeps what the sync routes
observe: last pull and push, its cursor and operation sequence, its heartbeat.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets

import peewee as pw

from library_kiosk.central.store.db import database
from library_kiosk.central.store.models import BaseModel, _now

CODE_VALID_HOURS = 24


class DeviceError(ValueError):
    """The device operation is not possible; the message says why."""


class Device(BaseModel):
    name = pw.CharField(max_length=60, unique=True)
    code_digest = pw.CharField(max_length=64, null=True, unique=True)
    code_expires = pw.DateTimeField(null=True)
    token_digest = pw.CharField(max_length=64, null=True, unique=True)
    status = pw.CharField(max_length=10, default="pending")  # pending / active / revoked
    created = pw.DateTimeField(default=_now)
    enrolled = pw.DateTimeField(null=True)
    revoked = pw.DateTimeField(null=True)
    last_seq = pw.BigIntegerField(default=0)  # the last operation sequence number applied from this device
    push_lease = pw.DateTimeField(null=True)  # a push of this device is in progress until then
    last_pull = pw.DateTimeField(null=True)
    last_push = pw.DateTimeField(null=True)
    cursor = pw.BigIntegerField(default=0)  # the cursor of its last pull
    last_heartbeat = pw.DateTimeField(null=True)
    heartbeat = pw.TextField(default="{}")
    identifier_key = pw.CharField(max_length=64, null=True)  # the key of its identifier hashes (fleet_keys.py)
    last_contact = pw.DateTimeField(null=True)  # its last authenticated request, written at most every 10 s (visits.py)


class SyncConflict(BaseModel):
    """An operation from a kiosk the central store refused, or applied differently than the kiosk had
    told the patron (a pending offline renewal refused at replay). Staff see these."""

    device = pw.CharField(max_length=60, index=True)
    op_key = pw.CharField(max_length=80)
    op_type = pw.CharField(max_length=30)
    primary_id = pw.CharField(max_length=100, default="", index=True)
    reason = pw.CharField(max_length=60, default="")
    detail = pw.TextField(default="")
    letter_status = pw.CharField(max_length=20, default="")  # sent / failed / none
    created = pw.DateTimeField(default=_now, index=True)


class SyncConflictDealt(BaseModel):
    """A sync conflict staff marked as dealt with: who and when. A table of its own rather than columns
    on ``SyncConflict``, because the store migrates by adding tables only (``CREATE TABLE IF NOT
    EXISTS``, see ``appliance/upgrade.py``): existing databases get it at the next start."""

    conflict = pw.ForeignKeyField(SyncConflict, unique=True, on_delete="CASCADE", backref="dealt")
    operator = pw.CharField(max_length=60)
    created = pw.DateTimeField(default=_now)


class AppliedOp(BaseModel):
    device = pw.ForeignKeyField(Device, on_delete="CASCADE")
    key = pw.CharField(max_length=80)
    seq = pw.BigIntegerField()
    op_type = pw.CharField(max_length=30)
    digest = pw.CharField(max_length=64)
    status = pw.CharField(max_length=10)  # applied / rejected
    response = pw.TextField()
    created = pw.DateTimeField(default=_now)

    class Meta:
        indexes = ((("device", "key"), True), (("device", "seq"), True))


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def add(name: str, replace: bool = False) -> str:
    """Register ``name`` (or renew its enrolment if ``replace``) and return a one-time enrolment code."""
    name = (name or "").strip()
    if not name or len(name) > 60:
        raise DeviceError("Give the device a name of 1 to 60 characters.")
    code = "-".join(secrets.token_hex(3).upper() for _ in range(4))  # 48 random bits, easy to type
    expires = _now() + dt.timedelta(hours=CODE_VALID_HOURS)
    with database.atomic():
        device = Device.get_or_none(Device.name == name)
        if device is not None and not replace:
            raise DeviceError(f"A device called {name!r} exists; revoke it or use --replace.")
        if device is None:
            Device.create(name=name, code_digest=digest(code), code_expires=expires)
        else:
            Device.update(code_digest=digest(code), code_expires=expires, token_digest=None, status="pending",
                          revoked=None, last_seq=0).where(Device.id == device.id).execute()
    return code


def enrol(code: str) -> tuple[str, str]:
    """Exchange a one-time code for (device name, device token); the code stops working."""
    code = (code or "").strip().upper()
    if not code:
        raise DeviceError("No enrolment code given.")
    token = secrets.token_urlsafe(32)
    with database.atomic():
        device = Device.get_or_none(Device.code_digest == digest(code))
        if device is None or device.status == "revoked" or device.code_expires is None \
                or device.code_expires < _now():
            raise DeviceError("This enrolment code is not valid (unknown, used, expired or revoked).")
        updated = (Device.update(code_digest=None, code_expires=None, token_digest=digest(token), status="active",
                                 enrolled=_now(), identifier_key=secrets.token_hex(32))  # a new key per enrolment
                   .where((Device.id == device.id) & (Device.code_digest == digest(code))).execute())
        if not updated:
            raise DeviceError("This enrolment code was used at the same moment by another kiosk.")
    return device.name, token


def authenticate(token: str) -> Device | None:
    """The device holding ``token`` (look at ``status``: a revoked device keeps its row), or None."""
    if not token:
        return None
    return Device.get_or_none(Device.token_digest == digest(token))


def revoke(name: str) -> None:
    updated = Device.update(status="revoked", code_digest=None, revoked=_now()).where(
        Device.name == name).execute()
    if not updated:
        raise DeviceError(f"No device is called {name!r}.")


PULL_NOTE_SECONDS = 30


def note_pull(device: Device, cursor: int) -> None:
    """Record a pull. A poll that finds the cursor where it was is written at most every
    ``PULL_NOTE_SECONDS``: a fleet polls every few seconds, and the status needs no finer clock."""
    now = _now()
    if device.cursor == cursor and device.last_pull and (now - device.last_pull).total_seconds() < PULL_NOTE_SECONDS:
        return
    Device.update(last_pull=now, cursor=cursor).where(Device.id == device.id).execute()


def note_heartbeat(device: Device, data: dict) -> None:
    Device.update(last_heartbeat=_now(), heartbeat=json.dumps(data, separators=(",", ":"), default=str)).where(
        Device.id == device.id).execute()


def _iso(value):
    return value.isoformat() + "Z" if value else None


def listing() -> list[dict]:
    """Every device with what staff need to see: status, last pull and push, cursor, operations, and its
    conflicts still open (not marked as dealt with)."""
    conflicts = dict(SyncConflict.select(SyncConflict.device, pw.fn.COUNT(SyncConflict.id))
                     .join(SyncConflictDealt, pw.JOIN.LEFT_OUTER, on=(SyncConflictDealt.conflict == SyncConflict.id))
                     .where(SyncConflictDealt.id.is_null()).group_by(SyncConflict.device).tuples())
    rows = []
    for d in Device.select().order_by(Device.name):
        try:
            heartbeat = json.loads(d.heartbeat or "{}")
        except ValueError:
            heartbeat = {}
        rows.append({"name": d.name, "status": d.status, "enrolled": _iso(d.enrolled), "revoked": _iso(d.revoked),
                     "last_pull": _iso(d.last_pull), "last_push": _iso(d.last_push), "cursor": d.cursor,
                     "last_seq": d.last_seq, "last_heartbeat": _iso(d.last_heartbeat), "heartbeat": heartbeat,
                     "conflicts": conflicts.get(d.name, 0)})
    return rows


def conflicts(limit: int = 200) -> list[dict]:
    """The latest conflicts, newest first; ``dealt_with_by`` is empty while a conflict is open."""
    rows = (SyncConflict.select(SyncConflict, SyncConflictDealt.operator.alias("dealt_with_by"))
            .join(SyncConflictDealt, pw.JOIN.LEFT_OUTER, on=(SyncConflictDealt.conflict == SyncConflict.id))
            .order_by(SyncConflict.id.desc()).limit(limit).objects())
    return [{"device": c.device, "op_key": c.op_key, "op_type": c.op_type, "primary_id": c.primary_id,
             "reason": c.reason, "detail": c.detail, "letter_status": c.letter_status, "created": _iso(c.created),
             "dealt_with_by": c.dealt_with_by or ""} for c in rows]


def conflict_query(dealt_with: bool = False, limit: int = 200) -> list[tuple[SyncConflict, SyncConflictDealt | None]]:
    """Open sync conflicts (or, with ``dealt_with``, the ones staff marked as dealt with), newest first,
    each with its ``SyncConflictDealt`` row (None while open)."""
    query = (SyncConflict.select(SyncConflict, SyncConflictDealt)
             .join(SyncConflictDealt, pw.JOIN.LEFT_OUTER, on=(SyncConflictDealt.conflict == SyncConflict.id),
                   attr="dealt_row")
             .where(SyncConflictDealt.id.is_null(not dealt_with))
             .order_by(SyncConflict.created.desc(), SyncConflict.id.desc()).limit(limit))
    return [(c, c.dealt_row if dealt_with else None) for c in query]


def mark_conflict_dealt(conflict_id: int, operator: str) -> SyncConflictDealt:
    """Mark a sync conflict as dealt with by ``operator`` (audited); ``DeviceError`` if it is unknown or
    already marked."""
    from library_kiosk.central.store import (
        staff,  # staff has no import of ours beyond models; kept local like idempotency's
    )

    conflict = SyncConflict.get_or_none(SyncConflict.id == conflict_id)
    if conflict is None:
        raise DeviceError(f"There is no sync conflict {conflict_id}.")
    try:
        with database.atomic():
            dealt = SyncConflictDealt.create(conflict=conflict, operator=operator)
            staff.audit(operator, "conflict.dealt_with", primary_id=conflict.primary_id,
                        detail=f"Sync conflict {conflict.id} ({conflict.op_type} from {conflict.device}: "
                               f"{conflict.reason}) marked as dealt with")
    except pw.IntegrityError:
        found = SyncConflictDealt.get_or_none(SyncConflictDealt.conflict == conflict.id)
        by = f" by {found.operator}" if found else ""
        raise DeviceError(f"Sync conflict {conflict_id} was already marked as dealt with{by}.") from None
    return dealt
