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

While the central store answers, it is the authority for PINs (kiosk/services.py ``check_pin``): its count and
lock are mirrored here (``mirror``) so that they hold if the kiosk goes offline; offline, these counters decide.
Every wrong PIN, online or not and whatever the card, also counts towards a kiosk-wide throttle (the same table,
``name="pins"``): ``[kiosk] wrong_pins_per_minute`` within a minute pause PIN entry here for
``wrong_pins_pause_seconds``.

Times here are on the kiosk's trusted clock (kiosk/trusted_clock.py). A lock or pause whose end is further ahead
than it could be (made while this kiosk's clock was ahead, then corrected) is cut back when read: a card is never
locked for longer than the lockout (``longest``) from now, whatever the clock said when the lock was made.
"""
from __future__ import annotations

import datetime as dt

import peewee as pw

from kiosk import trusted_clock
from kiosk.cache_db import CacheModel


class PinFailure(CacheModel):
    primary_id = pw.CharField(primary_key=True)
    failures = pw.IntegerField(default=0)
    locked_until = pw.DateTimeField(null=True)
    updated = pw.DateTimeField()


class SignInThrottle(CacheModel):
    """Kiosk-wide throttles: failed sign-ins without a card (``name="signin"``), wrong PINs on any card
    (``name="pins"``)."""
    name = pw.CharField(primary_key=True)
    failures = pw.IntegerField(default=0)
    window_start = pw.DateTimeField(null=True)
    paused_until = pw.DateTimeField(null=True)


LOCKOUT_MODELS = [PinFailure, SignInThrottle]
SIGNIN_MAX_FAILURES = 5  # failed sign-ins without a card ... (defaults of [kiosk] signin_*)
SIGNIN_WINDOW_SECONDS = 60  # ... within this long ...
SIGNIN_PAUSE_SECONDS = 30  # ... pause sign-in at this kiosk for this long


def _now() -> dt.datetime:
    return trusted_clock.now()


def locked_until(primary_id: str, now: dt.datetime | None = None,
                 longest: dt.timedelta | None = None) -> dt.datetime | None:
    """When the card's lock ends, or None when it is not locked. A lock ending more than ``longest`` (the lockout's
    length) from now was made under a clock that was ahead: it is cut back to ``now + longest`` and kept so."""
    now = now or _now()
    row = PinFailure.get_or_none(PinFailure.primary_id == primary_id)
    if row and row.locked_until and row.locked_until > now:
        if longest is not None and row.locked_until > now + longest:
            row.locked_until = now + longest
            PinFailure.update(locked_until=row.locked_until).where(PinFailure.primary_id == primary_id).execute()
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


def clear_unlocked(unlocks: dict[str, dt.datetime]) -> int:
    """Staff cleared these patrons' PIN locks at the station (``{primary_id: the unlock's time}``, the central
    store's, from a page of changes): this kiosk's counter and lock of each are cleared when they were last
    counted before the unlock; wrong PINs typed here after it still count. Returns the rows cleared."""
    cleared = 0
    for primary_id, at in unlocks.items():
        cleared += PinFailure.delete().where((PinFailure.primary_id == primary_id)
                                             & (PinFailure.updated <= at)).execute()
    return cleared


def mirror(primary_id: str, failures: int, until: dt.datetime | None, now: dt.datetime | None = None) -> None:
    """Keep this kiosk's counter as the central store (the authority) last said: so a kiosk that goes offline
    goes on from the same count, and honours the central store's lock until it ends."""
    now = now or _now()
    with PinFailure._meta.database.atomic("IMMEDIATE"):
        row = PinFailure.get_or_none(PinFailure.primary_id == primary_id)
        new = row is None
        if new:
            row = PinFailure(primary_id=primary_id)
        row.failures, row.locked_until, row.updated = max(0, failures), until, now
        row.save(force_insert=new)


def _paused_until(name: str, now: dt.datetime | None = None,
                  longest: dt.timedelta | None = None) -> dt.datetime | None:
    now = now or _now()
    row = SignInThrottle.get_or_none(SignInThrottle.name == name)
    if row and row.paused_until and row.paused_until > now:
        if longest is not None and row.paused_until > now + longest:  # paused under a clock that was ahead
            row.paused_until = now + longest
            SignInThrottle.update(paused_until=row.paused_until).where(SignInThrottle.name == name).execute()
        return row.paused_until
    return None


def _throttle_failure(name: str, now: dt.datetime | None, max_failures: int, window_seconds: float,
                      pause_seconds: float) -> dt.datetime | None:
    """Count one failure on the kiosk-wide throttle ``name``; when the pause it starts ends, or None."""
    now = now or _now()
    with SignInThrottle._meta.database.atomic("IMMEDIATE"):
        row = SignInThrottle.get_or_none(SignInThrottle.name == name)
        new = row is None
        if new:
            row = SignInThrottle(name=name, failures=0)
        if row.window_start is None or not 0 <= (now - row.window_start).total_seconds() <= window_seconds:
            row.window_start, row.failures = now, 0
        row.failures += 1
        paused = None
        if row.failures >= max_failures:
            paused = row.paused_until = now + dt.timedelta(seconds=pause_seconds)
            row.failures, row.window_start = 0, None  # after the pause, a fresh count
        row.save(force_insert=new)
    return paused


def signin_paused_until(now: dt.datetime | None = None,
                        longest: dt.timedelta | None = None) -> dt.datetime | None:
    """When the pause of sign-in without a card at this kiosk ends (UTC), or None when it is open."""
    return _paused_until("signin", now, longest)


def signin_failure(now: dt.datetime | None = None, max_failures: int = SIGNIN_MAX_FAILURES,
                   window_seconds: float = SIGNIN_WINDOW_SECONDS,
                   pause_seconds: float = SIGNIN_PAUSE_SECONDS) -> dt.datetime | None:
    """Count one failed sign-in at this kiosk; return when the pause it starts ends, or None
    (``[kiosk] signin_max_failures`` within ``signin_window_seconds`` pause for ``signin_pause_seconds``)."""
    return _throttle_failure("signin", now, max_failures, window_seconds, pause_seconds)


def pins_paused_until(now: dt.datetime | None = None,
                      longest: dt.timedelta | None = None) -> dt.datetime | None:
    """When the pause of PIN entry at this kiosk (too many wrong PINs, any cards) ends (UTC), or None."""
    return _paused_until("pins", now, longest)


def pin_paused(until: dt.datetime) -> None:
    """Pause PIN entry at this kiosk until ``until`` (the central store asked this kiosk to wait)."""
    with SignInThrottle._meta.database.atomic("IMMEDIATE"):
        row = SignInThrottle.get_or_none(SignInThrottle.name == "pins")
        if row is None:
            SignInThrottle.create(name="pins", failures=0, paused_until=until)
        else:
            SignInThrottle.update(paused_until=until).where(SignInThrottle.name == "pins").execute()


def wrong_pin(max_per_minute: int, pause_seconds: float, now: dt.datetime | None = None) -> dt.datetime | None:
    """Count one wrong PIN at this kiosk, whatever the card (``[kiosk] wrong_pins_per_minute``): when that many
    come within a minute, PIN entry pauses here for ``wrong_pins_pause_seconds``; returns the pause's end."""
    return _throttle_failure("pins", now, max_per_minute, 60, pause_seconds)
