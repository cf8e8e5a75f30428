"""Which patrons kiosks hold: all of them, or only the recently active (``[central] sync_recent_days``).

A kiosk holds a patron's record so that it can serve the patron while the central store is away. With
``sync_recent_days`` = N > 0 the pages carry only the patrons active within the last N days:

- who used a kiosk: identified at a tap through the central store (``POST /api/v1/patrons/refresh``, which
  needs the card's identifier; ``note_active``, at most one write an hour per patron). Pushed operations do not
  count: a kiosk token could name any primary id in one;
- who borrowed: a loan dated within the N days.

Every other patron is sent as a delete (a kiosk that held them drops them). A kiosk that is online finds
such a patron at the tap through the central store, which makes them active again. Entering the scope
records a change (so every kiosk pulls the patron); leaving it too (``expire``, run from the sync route at
most once a minute), so kiosks drop the patron. Changing the setting changes the pages' ``scope`` label, and
a kiosk that sees another label empties its cache and pulls again from the start.

With N = 0 (the default) every patron is sent, as every kiosk must then find every card offline.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee as pw

from library_kiosk.central.store import changes
from library_kiosk.central.store.db import database, write_transaction
from library_kiosk.central.store.models import BaseModel, Loan, User
from library_kiosk.domain import clock

NOTE_EVERY = dt.timedelta(hours=1)  # a patron's activity is written at most this often
BATCH = 500  # primary ids per query (SQLite's bound parameters)


class PatronActivity(BaseModel):
    """When a patron last used a kiosk (their loans' dates are read from the loans)."""

    primary_id = pw.CharField(max_length=100, unique=True)
    last_active = pw.DateTimeField(index=True)


class ScopeSweep(BaseModel):
    """The one row saying up to which moment patrons who left the scope have been recorded (``expire``)."""

    swept_to = pw.DateTimeField()


@dataclass(frozen=True)
class Scope:
    recent_days: int = 0  # 0: every patron

    @classmethod
    def from_config(cls, central: dict | None) -> Scope:
        return cls(max(0, int((central or {}).get("sync_recent_days", 0) or 0)))

    @property
    def everyone(self) -> bool:
        return self.recent_days <= 0

    @property
    def label(self) -> str:
        """What the pages say (a kiosk that held another scope's patrons starts again)."""
        return "all" if self.everyone else f"recent:{self.recent_days}"

    def cutoff(self, now: dt.datetime) -> dt.datetime:
        return now - dt.timedelta(days=self.recent_days)


EVERY_PATRON = Scope()


def _chunks(values: list[str]):
    for start in range(0, len(values), BATCH):
        yield values[start:start + BATCH]


def in_scope(scope: Scope, primary_ids, now: dt.datetime | None = None) -> set[str]:
    """Which of ``primary_ids`` kiosks may hold."""
    wanted = sorted({pid for pid in primary_ids if pid})
    if scope.everyone:
        return set(wanted)
    cutoff = scope.cutoff(now or clock.now())
    found: set[str] = set()
    for chunk in _chunks(wanted):
        found.update(pid for (pid,) in PatronActivity.select(PatronActivity.primary_id).where(
            PatronActivity.primary_id.in_(chunk) & (PatronActivity.last_active >= cutoff)).tuples())
        rest = [pid for pid in chunk if pid not in found]
        if rest:
            found.update(pid for (pid,) in User.select(User.primary_id).join(Loan, on=(Loan.user == User.id)).where(
                User.primary_id.in_(rest) & (Loan.loan_date >= cutoff.date())).distinct().tuples())
    return found


def note_active(scope: Scope, primary_ids, now: dt.datetime | None = None) -> list[str]:
    """Record that these patrons used a kiosk now; those who were outside the scope get a change, so every
    kiosk pulls them. Returns the ones that entered the scope."""
    now = now or clock.now()
    wanted = sorted({pid for pid in primary_ids if pid})
    if not wanted:
        return []
    entered = [] if scope.everyone else sorted(set(wanted) - in_scope(scope, wanted, now))
    recent = now - NOTE_EVERY
    with write_transaction():  # reads, then writes: on SQLite it waits for another writer instead of failing
        fresh = {pid for chunk in _chunks(wanted) for (pid,) in PatronActivity.select(PatronActivity.primary_id)
                 .where(PatronActivity.primary_id.in_(chunk) & (PatronActivity.last_active >= recent)).tuples()}
        stale = [pid for pid in wanted if pid not in fresh]
        if stale:
            (PatronActivity.insert_many([{"primary_id": pid, "last_active": now} for pid in stale])
             .on_conflict(conflict_target=[PatronActivity.primary_id],
                          update={PatronActivity.last_active: now}).execute())
        if entered:
            changes.record_many(entered)
    return entered


def expire(scope: Scope, now: dt.datetime | None = None) -> list[str]:
    """Record a change for every patron who left the scope since the last run (their last activity or loan
    fell out of the window), so kiosks are sent a delete. The page decides at the time it is served, so a patron
    still in scope by another activity is simply sent again. Returns the primary ids recorded."""
    if scope.everyone:
        return []
    now = now or clock.now()
    cutoff = scope.cutoff(now)
    with database.atomic():
        row = ScopeSweep.get_or_none(ScopeSweep.id == 1)
        since = row.swept_to if row else cutoff - dt.timedelta(days=1)
        if since >= cutoff:
            return []
        left = {pid for (pid,) in PatronActivity.select(PatronActivity.primary_id).where(
            (PatronActivity.last_active >= since) & (PatronActivity.last_active < cutoff)).tuples()}
        left.update(pid for (pid,) in User.select(User.primary_id).join(Loan, on=(Loan.user == User.id)).where(
            (Loan.loan_date >= since.date()) & (Loan.loan_date < cutoff.date())).distinct().tuples())
        if row is None:
            ScopeSweep.create(id=1, swept_to=cutoff)
        else:
            ScopeSweep.update(swept_to=cutoff).where(ScopeSweep.id == 1).execute()
        found = sorted(left)
        changes.record_many(found)
    return found
