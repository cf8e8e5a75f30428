"""PIN and password checks asked by kiosks: the central store is the authority (issue 20).

Wrong secrets are counted per patron across every kiosk (``PinFailures``, as ``LoginFailures`` counts staff
logins): after ``[central] pin_max_attempts`` in a row the patron is locked for ``pin_lockout_minutes`` at every
kiosk, and no secret is checked while the lock lasts, not even the right one. Each attempt is counted before its
secret is checked (``begin``; a right one clears the count), so requests sent at once get no extra guesses.
One device token may ask at most ``pin_checks_per_device_per_minute`` checks a minute (a sliding minute, counted
from the audit log). Every check is in the staff audit log (``kiosk.pin_check``: the device, the patron, the
outcome; never the secret).

Lockout reports from kiosks (a card locked at a kiosk while it was offline) are audit entries only; they are
accepted when ``lockout_report_problem`` finds nothing wrong with them: ``locked_until`` a real UTC timestamp
(``YYYY-MM-DDTHH:MM:SS[.ffffff][Z]``, nothing else, so no control characters reach the log), no later than
``pin_lockout_minutes`` from now, and, when reported live (``live=True``), in the future.

Staff unlock a patron at the station (``unlock``, user managers and up): the central store's count and lock are
cleared, an unlock is recorded in the change sequence (``changes.UNLOCK``) so that every kiosk clears its own
counter and lock for the patron at its next sync (docs/sync.md, "Unlocks"), and the staff audit log says who
did it (``station.pin_unlock``). ``lockouts`` reads a patron's recent locks from the audit log, each with
where it was made, until when, and whether and by whom it was cleared.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import peewee as pw

from library_kiosk.central.store.db import is_postgres, write_transaction
from library_kiosk.central.store.models import BaseModel, _now
from library_kiosk.settings import DEFAULTS

CHECK_ACTION = "kiosk.pin_check"
LOCKOUT_ACTION = "kiosk.pin_lockout"
UNLOCK_ACTION = "station.pin_unlock"
RATE_WINDOW = dt.timedelta(minutes=1)
CLOCK_SKEW = dt.timedelta(minutes=1)  # a kiosk's clock may be this far ahead of ours
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z?")
_UNTIL = re.compile(r"until (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)Z?")  # in both lockout texts


@dataclass(frozen=True)
class PinLimits:
    """``[central]`` pin_max_attempts, pin_lockout_minutes, pin_checks_per_device_per_minute."""

    max_attempts: int
    lockout_minutes: float
    per_device_per_minute: int

    @classmethod
    def from_config(cls, central: dict | None = None) -> PinLimits:
        merged = {**DEFAULTS["central"], **(central or {})}
        return cls(int(merged["pin_max_attempts"]), float(merged["pin_lockout_minutes"]),
                   int(merged["pin_checks_per_device_per_minute"]))


class PinFailures(BaseModel):
    """Wrong PINs or passwords in a row for one patron, at any kiosk; the lock they started, if any."""

    primary_id = pw.CharField(max_length=100, unique=True)
    failures = pw.IntegerField(default=0)
    first = pw.DateTimeField(default=_now)
    locked_until = pw.DateTimeField(null=True)
    last_device = pw.CharField(max_length=100, default="")


@dataclass(frozen=True)
class CheckState:
    """What a kiosk is told: attempts left before the lock, and the lock's end (naive UTC) when locked."""

    attempts_left: int
    locked_until: dt.datetime | None = None

    def to_dict(self, ok: bool) -> dict:
        return {"ok": ok, "attempts_left": self.attempts_left, "locked_until": iso(self.locked_until)}


def iso(moment: dt.datetime | None) -> str | None:
    return moment.replace(microsecond=0).isoformat() + "Z" if moment else None


def operator(device: str) -> str:
    return f"kiosk:{device}"[:60]


def retry_after(device: str, limits: PinLimits, now: dt.datetime | None = None) -> int | None:
    """Seconds this device must wait before its next check, or None when it may check now."""
    from library_kiosk.central.store.staff import AuditEntry

    now = now or _now()
    recent = (AuditEntry.select(AuditEntry.created)
              .where((AuditEntry.operator == operator(device)) & (AuditEntry.action == CHECK_ACTION)
                     & (AuditEntry.created > now - RATE_WINDOW))
              .order_by(AuditEntry.created.desc()).limit(limits.per_device_per_minute))
    times = [row.created for row in recent]
    if len(times) < limits.per_device_per_minute:
        return None
    oldest = times[-1]  # the check that must leave the minute before another is allowed
    return max(1, int((oldest + RATE_WINDOW - now).total_seconds()) + 1)


def locked_until(primary_id: str, now: dt.datetime | None = None) -> dt.datetime | None:
    now = now or _now()
    row = PinFailures.get_or_none(PinFailures.primary_id == primary_id)
    if row is not None and row.locked_until is not None and row.locked_until > now:
        return row.locked_until
    return None


def _row_for_update(primary_id: str, now: dt.datetime) -> PinFailures:
    """The patron's row, locked for this transaction on PostgreSQL (two kiosks counting at once lose nothing)."""
    def read():
        query = PinFailures.select().where(PinFailures.primary_id == primary_id)
        return (query.for_update() if is_postgres() else query).first()

    row = read()
    if row is None:
        try:
            with PinFailures._meta.database.atomic():  # a savepoint: a racing insert leaves our transaction usable
                PinFailures.create(primary_id=primary_id, first=now)
        except pw.IntegrityError:
            pass
        row = read()
    return row


def begin(primary_id: str, limits: PinLimits, now: dt.datetime | None = None) -> CheckState | None:
    """Count this attempt before the secret is checked, so that requests sent at once cannot all be checked:
    None to go on and check; otherwise the answer to give without checking (the lock, or no attempt left while
    the last ones are being checked). A right secret then clears the count (``record_success``)."""
    now = now or _now()
    with write_transaction():
        row = _row_for_update(primary_id, now)
        if row.locked_until is not None and row.locked_until > now:
            return CheckState(0, row.locked_until)
        if row.locked_until is not None:
            row.failures, row.first, row.locked_until = 0, now, None  # a lock that ended starts a fresh count
        if row.failures >= limits.max_attempts:
            return CheckState(0)
        row.failures += 1
        row.save()
    return None


def record_failure(primary_id: str, device: str, limits: PinLimits,
                   now: dt.datetime | None = None) -> tuple[CheckState, bool]:
    """The attempt ``begin`` counted was wrong: the last allowed one starts the lock, at every kiosk. Returns what
    to answer, and whether this failure started the lock."""
    now = now or _now()
    started = False
    with write_transaction():
        row = _row_for_update(primary_id, now)
        row.failures = max(row.failures, 1)  # a right secret checked meanwhile cleared the count: this one counts
        row.last_device = device[:100]
        if row.failures >= limits.max_attempts and row.locked_until is None:
            row.locked_until = now + dt.timedelta(minutes=limits.lockout_minutes)
            started = True
        row.save()
    if row.locked_until is not None:
        return CheckState(0, row.locked_until), started
    return CheckState(max(0, limits.max_attempts - row.failures)), started


def uncount(primary_id: str) -> None:
    """The attempt ``begin`` counted could not be checked (the library system is down): it does not count."""
    PinFailures.update(failures=PinFailures.failures - 1).where(
        (PinFailures.primary_id == primary_id) & (PinFailures.failures > 0)
        & PinFailures.locked_until.is_null()).execute()


def record_success(primary_id: str) -> None:
    PinFailures.delete().where(PinFailures.primary_id == primary_id).execute()


def audit_check(device: str, primary_id: str, what: str, outcome: str) -> None:
    """One line in the staff audit log: which kiosk asked about which patron, and what came of it."""
    from library_kiosk.central.store import staff

    staff.audit(operator(device), CHECK_ACTION, primary_id, f"{what} check at {device[:100]}: {outcome}")


def audit_lock(device: str, primary_id: str, limits: PinLimits, until: dt.datetime) -> None:
    """The lock itself, where staff look for locked cards (``kiosk.pin_lockout``, as kiosks report theirs)."""
    from library_kiosk.central.store import staff

    staff.audit(operator(device), LOCKOUT_ACTION, primary_id,
                f"Card locked at every kiosk after {limits.max_attempts} wrong PINs or passwords "
                f"(the last at {device[:100]}), until {iso(until)}")


def lockout_report_problem(locked_until_text: object, limits: PinLimits, live: bool,
                           now: dt.datetime | None = None) -> str | None:
    """What is wrong with a kiosk's report of a lock (None: nothing, it may be audited)."""
    now = now or _now()
    if not isinstance(locked_until_text, str) or not _TIMESTAMP.fullmatch(locked_until_text):
        return "locked_until must be a UTC timestamp, YYYY-MM-DDTHH:MM:SSZ."
    try:
        until = dt.datetime.fromisoformat(locked_until_text.rstrip("Z"))
    except ValueError:
        return "locked_until is not a real date and time."
    if until > now + dt.timedelta(minutes=limits.lockout_minutes) + CLOCK_SKEW:
        return f"locked_until is more than {limits.lockout_minutes:g} minutes from now."
    if live and until <= now:
        return "locked_until is already past."
    return None


# --- the station: a patron's locks, and unlocking them (issue 16) ---

@dataclass(frozen=True)
class Lockout:
    """One lock as staff see it: a ``kiosk.pin_lockout`` entry (made by the central store's count or reported by a
    kiosk that counted offline), and the unlock that cleared it, if any."""

    at: dt.datetime  # when the lock was recorded (naive UTC)
    device: str  # the kiosk where the last wrong PIN was typed
    until: dt.datetime | None  # when the lock ends by itself (naive UTC)
    cleared_by: str = ""  # the staff user who unlocked the patron
    cleared_at: dt.datetime | None = None

    def active(self, now: dt.datetime | None = None) -> bool:
        return not self.cleared_by and self.until is not None and self.until > (now or _now())


def _until_in(detail: str) -> dt.datetime | None:
    found = _UNTIL.search(detail or "")
    try:
        return dt.datetime.fromisoformat(found.group(1)) if found else None
    except ValueError:
        return None


def lockouts(primary_id: str, limit: int = 10) -> list[Lockout]:
    """The patron's most recent locks, newest first, each marked cleared by the first unlock recorded after it."""
    from library_kiosk.central.store.staff import AuditEntry

    entries = list(AuditEntry.select().where(
        (AuditEntry.primary_id == primary_id) & AuditEntry.action.in_([LOCKOUT_ACTION, UNLOCK_ACTION]))
        .order_by(AuditEntry.created.desc(), AuditEntry.id.desc()).limit(limit * 4))
    found: list[Lockout] = []
    unlocks: list[tuple[str, dt.datetime]] = []  # those read so far: later than the entry at hand, newest first
    for entry in entries:
        if entry.action == UNLOCK_ACTION:
            unlocks.append((entry.operator, entry.created))
            continue
        device = entry.operator[6:] if entry.operator.startswith("kiosk:") else entry.operator
        until = _until_in(entry.detail)
        # cleared by the first unlock made while it held (one made after it ended cleared another lock)
        by, when = next(((who, at) for who, at in reversed(unlocks) if until is None or at < until), ("", None))
        found.append(Lockout(entry.created, device, until, by, when))
    return found[:limit]


def unlock(primary_id: str, operator_name: str, now: dt.datetime | None = None):
    """Clear the patron's PIN lock everywhere: the central store's count and lock now, each kiosk's at its next
    sync (an unlock in the change sequence). Returns the audit entry, or None when nothing was locked (nothing is
    written then)."""
    from library_kiosk.central.store import changes, staff

    now = now or _now()
    with write_transaction():
        held = [lock for lock in lockouts(primary_id) if lock.active(now)]
        central = locked_until(primary_id, now)
        if not held and central is None:
            return None
        kiosks = sorted({lock.device for lock in held})
        PinFailures.delete().where(PinFailures.primary_id == primary_id).execute()
        changes.record(primary_id, kind=changes.UNLOCK)
        where = f" (locked at {', '.join(kiosks)})" if kiosks else ""
        return staff.audit(operator_name, UNLOCK_ACTION, primary_id,
                           f"PIN lock cleared at the desk{where}: the PIN can be entered again at every kiosk "
                           f"after its next sync, a matter of seconds for a kiosk that is online.")
