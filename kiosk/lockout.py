"""Wrong-PIN counters and card locks at this kiosk, kept in the local cache database.

One row per patron who has typed a wrong PIN here recently. After
``pin_max_attempts`` failures in a row the card is locked at this kiosk until
``locked_until``; a right PIN clears the row. Staff are told through
``kiosk.services.record_lockout`` (the central store's audit log).

Signing in without a card (kiosk/signin.py) shares these counters: a wrong password
counts as a wrong PIN for the same patron. A user name that is nobody's gets a
counter of its own (keyed by the name's keyed hash, never the name), so the screen
behaves the same for it. Every failed sign-in also counts towards a per-kiosk
throttle (``SignInThrottle``): ``SIGNIN_MAX_FAILURES`` within ``SIGNIN_WINDOW_SECONDS``
pause sign-in at this kiosk for ``SIGNIN_PAUSE_SECONDS``.
"""
from __future__ import annotations

import datetime as dt

import peewee as pw

from kiosk.cache_db import CacheModel
from library_kiosk.domain import clock


class PinFailure(CacheModel):
    primary_id = pw.CharField(primary_key=True)
    failures = pw.IntegerField(default=0)
    locked_until = pw.DateTimeField(null=True)
    updated = pw.DateTimeField()


class SignInThrottle(CacheModel):
    """Failed sign-ins without a card at this kiosk (one row, ``name="signin"``)."""
    name = pw.CharField(primary_key=True)
    failures = pw.IntegerField(default=0)
    window_start = pw.DateTimeField(null=True)
    paused_until = pw.DateTimeField(null=True)


LOCKOUT_MODELS = [PinFailure, SignInThrottle]
SIGNIN_MAX_FAILURES = 5  # failed sign-ins without a card ... (defaults of [kiosk] signin_*)
SIGNIN_WINDOW_SECONDS = 60  # ... within this long ...
SIGNIN_PAUSE_SECONDS = 30  # ... pause sign-in at this kiosk for this long


def _now() -> dt.datetime:
    return clock.now()


def locked_until(primary_id: str, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the card's lock ends, or None when it is not locked."""
    now = now or _now()
    row = PinFailure.get_or_none(PinFailure.primary_id == primary_id)
    if row and row.locked_until and row.locked_until > now:
        return row.locked_until
    return None


def failure(primary_id: str, max_attempts: int, lock_minutes: float,
            now: dt.datetime | None = None) -> tuple[int, bool]:
    """Count one wrong PIN; return (attempts left, locked now)."""
    now = now or _now()
    with PinFailure._meta.database.atomic("IMMEDIATE"):  # read then write: take the write lock first
        row = PinFailure.get_or_none(PinFailure.primary_id == primary_id)
        new = row is None
        if new:
            row = PinFailure(primary_id=primary_id, failures=0)
        elif row.locked_until and row.locked_until <= now:
            row.failures, row.locked_until = 0, None  # a lock that ended starts a fresh count
        row.failures += 1
        row.updated = now
        locked = row.failures >= max_attempts
        if locked:
            row.locked_until = now + dt.timedelta(minutes=lock_minutes)
        row.save(force_insert=new)
    return max(0, max_attempts - row.failures), locked


def clear(primary_id: str) -> None:
    PinFailure.delete().where(PinFailure.primary_id == primary_id).execute()


def signin_paused_until(now: dt.datetime | None = None) -> dt.datetime | None:
    """When the pause of sign-in without a card at this kiosk ends (UTC), or None when it is open."""
    now = now or _now()
    row = SignInThrottle.get_or_none(SignInThrottle.name == "signin")
    if row and row.paused_until and row.paused_until > now:
        return row.paused_until
    return None


def signin_failure(now: dt.datetime | None = None, max_failures: int = SIGNIN_MAX_FAILURES,
                   window_seconds: float = SIGNIN_WINDOW_SECONDS,
                   pause_seconds: float = SIGNIN_PAUSE_SECONDS) -> dt.datetime | None:
    """Count one failed sign-in at this kiosk; return when the pause it starts ends, or None
    (``[kiosk] signin_max_failures`` within ``signin_window_seconds`` pause for ``signin_pause_seconds``)."""
    now = now or _now()
    with SignInThrottle._meta.database.atomic("IMMEDIATE"):
        row = SignInThrottle.get_or_none(SignInThrottle.name == "signin")
        new = row is None
        if new:
            row = SignInThrottle(name="signin", failures=0)
        if row.window_start is None or (now - row.window_start).total_seconds() > window_seconds:
            row.window_start, row.failures = now, 0
        row.failures += 1
        paused = None
        if row.failures >= max_failures:
            paused = row.paused_until = now + dt.timedelta(seconds=pause_seconds)
            row.failures, row.window_start = 0, None  # after the pause, a fresh count
        row.save(force_insert=new)
    return paused
