"""Wrong-PIN counters and card locks at this kiosk, kept in the local cache database.

One row per patron who has typed a wrong PIN here recently. After
``pin_max_attempts`` failures in a row the card is locked at this kiosk until
``locked_until``; a right PIN clears the row. Staff are told through
``kiosk.services.record_lockout`` (the central store's audit log).
"""
from __future__ import annotations

import datetime as dt

import peewee as pw

from kiosk.cache import CacheModel


class PinFailure(CacheModel):
    primary_id = pw.CharField(primary_key=True)
    failures = pw.IntegerField(default=0)
    locked_until = pw.DateTimeField(null=True)
    updated = pw.DateTimeField()


LOCKOUT_MODELS = [PinFailure]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def locked_until(primary_id: str, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the card's lock ends, or None when it is not locked."""
    now = now or _now()
    row = PinFailure.get_or_none(PinFailure.primary_id == primary_id)
    if row and row.locked_until and row.locked_until > now:
        return row.locked_until
    return None


def failure(primary_id: str, max_attempts: int, lock_minutes: float, now: dt.datetime | None = None) -> tuple[int, bool]:
    """Count one wrong PIN; return (attempts left, locked now)."""
    now = now or _now()
    with PinFailure._meta.database.atomic():
        row = PinFailure.get_or_none(PinFailure.primary_id == primary_id)
        if row is None:
            row = PinFailure(primary_id=primary_id, failures=0)
        elif row.locked_until and row.locked_until <= now:
            row.failures, row.locked_until = 0, None  # a lock that ended starts a fresh count
        row.failures += 1
        row.updated = now
        locked = row.failures >= max_attempts
        if locked:
            row.locked_until = now + dt.timedelta(minutes=lock_minutes)
        row.save(force_insert=PinFailure.get_or_none(PinFailure.primary_id == primary_id) is None)
    return max(0, max_attempts - row.failures), locked


def clear(primary_id: str) -> None:
    PinFailure.delete().where(PinFailure.primary_id == primary_id).execute()
