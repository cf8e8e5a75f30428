"""Staff logins at the station, as an attacker would try them: every attempt is audited; wrong passwords are
counted per user name (known or not, so a lock says nothing of which names exist) and per computer address;
a user name locks after ``max_failures`` wrong passwords in a row and an address waits after
``max_failures_per_address`` within ``lock_minutes``. Sessions are kept here, not only in the signed cookie:
one ends at log out (a copied cookie no longer works) and, however active, after ``session_max_hours``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import peewee as pw

from library_kiosk.central.store.models import BaseModel, _now
from library_kiosk.settings import DEFAULTS


@dataclass(frozen=True)
class LoginLimits:
    """``[provisioning]`` login_max_failures, login_max_failures_per_address, login_lock_minutes, session_max_hours
    (their defaults are the settings', library_kiosk/settings)."""

    max_failures: int
    max_failures_per_address: int
    lock_minutes: float
    session_max_hours: float

    @classmethod
    def from_config(cls, provisioning: dict | None = None) -> LoginLimits:
        provisioning = provisioning or DEFAULTS["provisioning"]
        return cls(int(provisioning["login_max_failures"]), int(provisioning["login_max_failures_per_address"]),
                   float(provisioning["login_lock_minutes"]), float(provisioning["session_max_hours"]))


class LoginFailures(BaseModel):
    """Wrong passwords in a row for one user name (``name:``) or from one address (``address:``)."""

    key = pw.CharField(max_length=120, unique=True)
    failures = pw.IntegerField(default=0)
    first = pw.DateTimeField(default=_now)
    locked_until = pw.DateTimeField(null=True)


class StaffSession(BaseModel):
    """A logged-in station session; the browser holds the token, this table only its hash."""

    token_hash = pw.CharField(max_length=64, unique=True)
    username = pw.CharField(max_length=60, index=True)
    started = pw.DateTimeField(default=_now)
    ended = pw.DateTimeField(null=True)


def _name_key(username: str) -> str:
    return "name:" + (username or "").strip().lower()[:100]


def _address_key(address: str) -> str:
    return "address:" + (address or "unknown")[:100]


def locked_for(username: str, address: str, now: dt.datetime | None = None) -> tuple[str, int] | None:
    """Why a login must wait, if it must: ("name" or "address", whole minutes left)."""
    now = now or _now()
    for kind, key in (("name", _name_key(username)), ("address", _address_key(address))):
        row = LoginFailures.get_or_none(LoginFailures.key == key)
        if row is not None and row.locked_until is not None and row.locked_until > now:
            return kind, max(1, int((row.locked_until - now).total_seconds() // 60) + 1)
    return None


def record_failure(username: str, address: str, limits: LoginLimits, now: dt.datetime | None = None) -> bool:
    """Count one wrong password for the name and the address; True when the name is now locked."""
    now = now or _now()
    window = dt.timedelta(minutes=limits.lock_minutes)
    locked = False
    for key, limit in ((_name_key(username), limits.max_failures),
                       (_address_key(address), limits.max_failures_per_address)):
        row, _made = LoginFailures.get_or_create(key=key, defaults={"first": now})
        if now - row.first > window or (row.locked_until is not None and row.locked_until <= now):
            row.failures, row.first, row.locked_until = 0, now, None  # an old run of failures is forgotten
        row.failures += 1
        if row.failures >= limit:
            row.locked_until = now + window
            locked = locked or key.startswith("name:")
        row.save()
    return locked


def record_success(username: str) -> None:
    """A right password ends the name's run of failures (the address's stays: a spray goes on counting)."""
    LoginFailures.delete().where(LoginFailures.key == _name_key(username)).execute()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(username: str) -> str:
    """A new session for ``username``; the token goes in the browser's (signed) cookie."""
    token = secrets.token_urlsafe(32)
    StaffSession.create(token_hash=_hash(token), username=username)
    return token


def session_user(token: str, limits: LoginLimits, now: dt.datetime | None = None) -> str | None:
    """The user name of a live session: not ended at log out, and younger than ``session_max_hours``."""
    if not token:
        return None
    now = now or _now()
    row = StaffSession.get_or_none((StaffSession.token_hash == _hash(token)) & StaffSession.ended.is_null())
    if row is None:
        return None
    if now - row.started > dt.timedelta(hours=limits.session_max_hours):
        end_session(token, now)
        return None
    return row.username


def end_session(token: str, now: dt.datetime | None = None) -> None:
    if token:
        StaffSession.update(ended=now or _now()).where(StaffSession.token_hash == _hash(token)).execute()
