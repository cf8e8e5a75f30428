"""Patrons' visits at kiosks: per-patron actions only within a session the central store knows of (issue 20).

A kiosk's device token alone no longer reads, renews for or writes to a patron. A **visit** is opened when a
patron identifies at a kiosk while the central store answers (``POST /api/v1/patrons/refresh``: the kiosk shows
the card or barcode it read) and is **verified** when the patron's user group needs no PIN, or once a PIN or
password check here succeeded for it (``POST .../verify-pin``, which also opens a verified visit when it is
given none). Only a SHA-256 digest of the visit's id is kept; the id itself is a random
``secrets.token_urlsafe(24)`` the kiosk keeps in the patron's session and forgets at its end.

- **Live routes** (a patron's account, loans, requests, fees; renewals; letters) need a *live* visit
  (``use``): this device's, this patron's, verified, and used within ``[central] visit_minutes``; each use
  extends it.
- **Pushed operations** that act for a patron (``renew``, ``send_letter``; store/sync_ops.py) carry the visit
  in their payload (``op_problem``). One is accepted if the visit was live at the operation's time (opened no
  later than that, give or take ``CLOCK_SKEW``, and the time no later than ``visit_minutes`` after the visit's
  last use), or, with no usable visit, if its time falls within a **gap**: a period when this device was out of
  contact (``DeviceGap``), in which the kiosk identified the patron offline from its cache.
- **Gaps** are recorded as requests arrive (``note_contact``, called by the API's device check): the device's
  ``last_contact`` is written at most every ``CONTACT_NOTE_SECONDS``; a request that finds it older than
  ``[central] offline_gap_seconds`` records the gap from then until now.

Visits unused for ``KEEP_VISITS`` and gaps ended ``KEEP_GAPS`` ago are deleted (a kiosk pushes what it queued
offline as soon as it is back, so neither is needed later).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

import peewee as pw

from library_kiosk.central.store.devices import Device
from library_kiosk.central.store.models import BaseModel, User, _now
from library_kiosk.settings import DEFAULTS

HEADER = "X-Kiosk-Visit"  # the live routes' header
MAX_ID_LENGTH = 64  # a visit id is 32 characters; anything much longer is not one
CLOCK_SKEW = dt.timedelta(minutes=1)  # a kiosk's clock may be this far from ours
CONTACT_NOTE_SECONDS = 10  # a device's last contact is written at most this often
KEEP_VISITS = dt.timedelta(days=7)
KEEP_GAPS = dt.timedelta(days=30)
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")


class VisitRefused(Exception):
    """The request names no live visit for this device and patron; the message says what is missing."""


@dataclass(frozen=True)
class VisitRules:
    """``[central]`` visit_minutes and offline_gap_seconds."""

    minutes: float
    gap_seconds: float

    @classmethod
    def from_config(cls, central: dict | None = None) -> VisitRules:
        merged = {**DEFAULTS["central"], **(central or {})}
        return cls(float(merged["visit_minutes"]), float(merged["offline_gap_seconds"]))

    @property
    def span(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.minutes)


class Visit(BaseModel):
    """A patron identified at a kiosk: which kiosk, which patron, whether the PIN or password was checked here."""

    digest = pw.CharField(max_length=64, unique=True)  # SHA-256 of the id: the id itself is never stored
    device = pw.CharField(max_length=60)
    primary_id = pw.CharField(max_length=100)
    opened = pw.DateTimeField(default=_now)
    last_used = pw.DateTimeField(default=_now, index=True)
    verified = pw.BooleanField(default=False)
    ended = pw.DateTimeField(null=True)  # the kiosk said the patron left (Done, timeout, another card)

    class Meta:
        indexes = ((("device", "primary_id"), False),)


class DeviceGap(BaseModel):
    """A period when a device was out of contact with the central store (from its last request to its next)."""

    device = pw.CharField(max_length=60, index=True)
    started = pw.DateTimeField()
    ended = pw.DateTimeField(index=True)


def _digest(visit_id: str) -> str:
    return hashlib.sha256(visit_id.encode()).hexdigest()


def open_visit(device: str, primary_id: str, verified: bool, now: dt.datetime | None = None) -> str:
    """Open a visit for ``primary_id`` at ``device``; its id (given once, kept only as a digest)."""
    now = now or _now()
    visit_id = secrets.token_urlsafe(24)
    Visit.create(digest=_digest(visit_id), device=device[:60], primary_id=primary_id[:100], opened=now,
                 last_used=now, verified=verified)
    _purge(now)
    return visit_id


def open_for(device: str, user: User, now: dt.datetime | None = None) -> str:
    """The visit a patron's identification opens: verified at once when the user group needs no PIN."""
    return open_visit(device, user.primary_id, not user.user_group.pin_required, now)


def _find(device: str, primary_id: str, visit_id: object) -> Visit | None:
    """The visit ``visit_id`` names if it is this device's and this patron's, else None (whatever the reason)."""
    if not isinstance(visit_id, str) or not visit_id or len(visit_id) > MAX_ID_LENGTH:
        return None
    visit = Visit.get_or_none(Visit.digest == _digest(visit_id))
    if visit is None or visit.device != device[:60] or visit.primary_id != primary_id:
        return None
    return visit


def _live(visit: Visit, rules: VisitRules, now: dt.datetime) -> bool:
    return visit.ended is None and visit.last_used + rules.span >= now


def end(device: str, primary_id: str, visit_id: object, now: dt.datetime | None = None) -> bool:
    """The patron left the kiosk (Done, the idle timeout, another card): the visit serves no live route any more;
    operations the kiosk made before now still count. True if it was this device's open visit of this patron."""
    now = now or _now()
    visit = _find(device, primary_id, visit_id)
    if visit is None or visit.ended is not None:
        return False
    return Visit.update(ended=now).where((Visit.id == visit.id) & Visit.ended.is_null()).execute() == 1


def _touch(visit: Visit, when: dt.datetime, **changes) -> None:
    Visit.update(last_used=pw.Case(None, [(Visit.last_used < when, when)], Visit.last_used), **changes).where(
        Visit.id == visit.id).execute()


def verified_by_secret(device: str, primary_id: str, visit_id: object, rules: VisitRules,
                       now: dt.datetime | None = None) -> str:
    """A right PIN or password for ``primary_id`` at ``device``: the visit it names, now verified, if it is this
    device's live visit for this patron; else a new verified visit. Returns the id the kiosk keeps."""
    now = now or _now()
    visit = _find(device, primary_id, visit_id)
    if visit is not None and _live(visit, rules, now):
        _touch(visit, now, verified=True)
        return str(visit_id)
    return open_visit(device, primary_id, True, now)


def use(device: str, primary_id: str, visit_id: object, rules: VisitRules, now: dt.datetime | None = None) -> None:
    """Let a live route act for ``primary_id`` at ``device`` only within a live, verified visit of both (and
    extend it); ``VisitRefused`` otherwise, with nothing changed."""
    now = now or _now()
    if not visit_id:
        raise VisitRefused(f"This needs the patron's visit: send {HEADER} with the visit the central store opened "
                           "when the patron identified at this kiosk.")
    visit = _find(device, primary_id, visit_id)
    if visit is None:
        raise VisitRefused("This visit is not one the central store opened at this kiosk for this patron.")
    if not visit.verified:
        raise VisitRefused("The patron's PIN has not been checked in this visit: check it first (verify-pin, "
                           "with this visit).")
    if visit.ended is not None:
        raise VisitRefused("This visit has ended: the patron left this kiosk and must identify again.")
    if not _live(visit, rules, now):
        raise VisitRefused(f"This visit has ended (unused for more than {rules.minutes:g} minutes): the patron "
                           "must identify again.")
    _touch(visit, now)


def parse_time(text: object) -> dt.datetime | None:
    """A kiosk's UTC timestamp (``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``) as naive UTC; None for anything else."""
    if not isinstance(text, str) or not _TIMESTAMP.fullmatch(text):
        return None
    try:
        return dt.datetime.fromisoformat(text[:-1])
    except ValueError:
        return None


def op_time(created: object, now: dt.datetime | None = None) -> dt.datetime:
    """When an operation was made: the time the kiosk gave it (``created``), never later than now; the time it
    was received when it has none."""
    now = now or _now()
    made = parse_time(created)
    return now if made is None else min(made, now)


def op_problem(device: str, primary_id: str, visit_id: object, at: dt.datetime, rules: VisitRules,
               now: dt.datetime | None = None) -> str | None:
    """Why a pushed operation made at ``at`` may not act for ``primary_id`` (None: it may). Accepted within a
    verified visit of this device and patron that was live at ``at`` (the visit's last use moves on to ``at``),
    or, without one, when ``at`` falls within a recorded gap of this device (it identified the patron offline)."""
    now = now or _now()
    visit = _find(device, primary_id, visit_id)
    until = visit.ended + CLOCK_SKEW if visit is not None and visit.ended is not None else None
    if visit is not None and visit.verified and visit.opened - CLOCK_SKEW <= at <= (
            until or visit.last_used + rules.span):
        _touch(visit, min(at, now))
        return None
    if in_gap(device, at):
        return None
    if visit_id:
        return ("The operation's visit is not a verified visit of this kiosk for this patron that was open when "
                "the operation was made, and this kiosk was not out of contact then.")
    return ("The operation carries no visit, and this kiosk was not out of contact with the central store when it "
            "was made: a kiosk acts for a patron only within a visit the central store knows of.")


def in_gap(device: str, at: dt.datetime) -> bool:
    """Whether ``at`` falls within a recorded gap of ``device`` (give or take ``CLOCK_SKEW``)."""
    return DeviceGap.select().where(
        (DeviceGap.device == device[:60]) & (DeviceGap.started <= at + CLOCK_SKEW)
        & (DeviceGap.ended >= at - CLOCK_SKEW)).exists()


def note_contact(device: Device, rules: VisitRules, now: dt.datetime | None = None) -> DeviceGap | None:
    """A request from ``device`` arrived: record its contact (at most every ``CONTACT_NOTE_SECONDS``), and the gap
    since its last contact when that is older than ``offline_gap_seconds``. Returns the gap recorded, if any.

    A device from before ``last_contact`` existed counts from its last pull, push or heartbeat. The update is
    conditional on the value read, so two requests arriving together record one gap."""
    now = now or _now()
    last = device.last_contact or max((t for t in (device.last_pull, device.last_push, device.last_heartbeat) if t),
                                      default=None)
    if last is not None and (now - last).total_seconds() < CONTACT_NOTE_SECONDS:
        return None
    same = Device.last_contact.is_null() if device.last_contact is None else Device.last_contact == device.last_contact
    if not Device.update(last_contact=now).where((Device.id == device.id) & same).execute():
        return None  # another request of this device noted it first
    device.last_contact = now
    if last is None or (now - last).total_seconds() <= rules.gap_seconds:
        return None
    return DeviceGap.create(device=device.name[:60], started=last, ended=now)


def _purge(now: dt.datetime) -> None:
    Visit.delete().where(Visit.last_used < now - KEEP_VISITS).execute()
    DeviceGap.delete().where(DeviceGap.ended < now - KEEP_GAPS).execute()
