"""Staff accounts of the provisioning station, and the audit log of who changed what.

Roles, from least to most: circulation desk (find patrons, fees, loans, letters),
user manager (also registers and edits patrons and cards), administrator (also
manages staff, their roles included, and reads the audit log). Passwords are kept as slow hashes
(``library_kiosk.domain.hashing``) and follow the guide's password rules.
"""
from __future__ import annotations

import datetime as dt
import hashlib

import peewee as pw

from library_kiosk.central.store import limits, staff_logins
from library_kiosk.central.store.db import is_postgres, write_transaction
from library_kiosk.central.store.models import BaseModel, _now
from library_kiosk.central.store.staff_logins import LoginLimits
from library_kiosk.domain.hashing import hash_secret, verify_secret
from library_kiosk.domain.membership import staff_password_problems

ROLES = {"circulation": "Circulation desk", "user_manager": "User manager", "administrator": "Administrator"}
RANK = {"circulation": 1, "user_manager": 2, "administrator": 3}
DEMO_STAFF_USER = "admin"
DEMO_STAFF_PASSWORD = "demo-station-2026"
# Verified when the user name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = hash_secret("no such staff user")


class StaffUser(BaseModel):
    username = pw.CharField(max_length=60, unique=True)
    full_name = pw.CharField(max_length=200, default="")
    password_hash = pw.CharField(max_length=200)
    role = pw.CharField(max_length=20, default="circulation")
    active = pw.BooleanField(default=True)
    created = pw.DateTimeField(default=_now)
    last_login = pw.DateTimeField(null=True)

    def has_role(self, role: str) -> bool:
        return self.active and RANK.get(self.role, 0) >= RANK[role]


class AuditEntry(BaseModel):
    """One change made at the station: who, when, what, to which patron."""

    created = pw.DateTimeField(default=_now, index=True)
    operator = pw.CharField(max_length=60, index=True)
    action = pw.CharField(max_length=60)
    primary_id = pw.CharField(max_length=100, default="", index=True)
    detail = pw.TextField(default="")


class StaffError(ValueError):
    """A staff account could not be made or changed; the message says why."""


class PasswordError(StaffError):
    """A new password was not accepted; ``fields`` maps each form field to what is wrong with it."""

    def __init__(self, fields: dict[str, str]):
        super().__init__(" ".join(fields.values()))
        self.fields = fields


class LoginRefused(StaffError):
    """A login was refused; the message is fit for the login page."""


WRONG_LOGIN = "The user name or password is not right."
DEACTIVATED_LOGIN = "This staff account is deactivated and cannot log in. Ask an administrator."
LOCKED_NAME = ("Too many wrong passwords for this user name. Try again in {minutes} minutes, "
               "or ask an administrator.")
LOCKED_ADDRESS = "Too many wrong passwords from this computer. Try again in {minutes} minutes."
LOGIN_ACTIONS = ("login", "login.failed", "login.refused", "logout")  # audited sign-ins, apart from changes made


def create_staff(username: str, password: str, role: str, full_name: str = "") -> StaffUser:
    username = (username or "").strip()
    if not username:
        raise StaffError("A user name is required.")
    if role not in ROLES:
        raise StaffError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    full_name = (full_name or "").strip()
    too_long = limits.first_problem("StaffUser", {"username": username, "full_name": full_name,
                                                  "password": password or ""})
    if too_long:
        raise StaffError(too_long)
    problems = staff_password_problems(password or "", [username, full_name])
    if problems:
        raise StaffError(" ".join(problems))
    try:
        with StaffUser._meta.database.atomic():
            user = StaffUser.create(username=username, full_name=full_name, role=role,
                                    password_hash=hash_secret(password))
            audit("system", "staff.create", detail=f"{username} ({role})")
    except pw.IntegrityError:
        raise StaffError(f"There is already a staff user called {username}.") from None
    return user


def authenticate(username: str, password: str) -> StaffUser | None:
    """The active staff user with these credentials, or None (same slow work either way)."""
    user = StaffUser.get_or_none(StaffUser.username == (username or "").strip())
    if user is None or not user.active:
        verify_secret(_DUMMY_HASH, password or "x")
        return None
    if not verify_secret(user.password_hash, password or ""):
        return None
    StaffUser.update(last_login=_now()).where(StaffUser.id == user.id).execute()
    return user


def log_in(username: str, password: str, address: str = "", limits: LoginLimits | None = None) -> StaffUser:
    """The staff user logging in with these credentials from ``address``, or ``LoginRefused``. Every attempt
    is audited; a user name or an address with too many wrong passwords waits (``staff_logins``), even with
    the right password. A deactivated account is refused with its own message whether or not the password
    is right (and after the same slow work)."""
    limits = limits or LoginLimits.from_config()
    name = (username or "").strip()
    who, where = name[:60] or "-", f"from {address or 'an unknown address'}"
    waiting = staff_logins.locked_for(name, address)
    if waiting:
        kind, minutes = waiting
        audit(who, "login.refused", detail=f"{where}: the {kind} waits {minutes} min after wrong passwords")
        raise LoginRefused((LOCKED_NAME if kind == "name" else LOCKED_ADDRESS).format(minutes=minutes))
    user = authenticate(name, password)
    if user is not None:
        staff_logins.record_success(name)
        audit(user.username, "login", detail=where)
        return user
    with write_transaction():
        locked = staff_logins.record_failure(name, address, limits)
        audit(who, "login.failed", detail=where + ("; the user name is locked now" if locked else ""))
    found = StaffUser.get_or_none(StaffUser.username == name)
    if found is not None and not found.active:
        raise LoginRefused(DEACTIVATED_LOGIN)
    raise LoginRefused(WRONG_LOGIN)


def session_stamp(user: StaffUser) -> str:
    """A short fingerprint of the user's password hash, kept in the session: a session started before
    the password was changed (by the user elsewhere, or set by an administrator) no longer matches."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def _user(username: str) -> StaffUser:
    user = StaffUser.get_or_none(StaffUser.username == (username or "").strip())
    if user is None:
        raise StaffError(f"There is no staff user called {username!r}.")
    return user


def _new_password_problems(user: StaffUser, new: str, confirm: str) -> dict[str, str]:
    fields = {}
    problems = staff_password_problems(new or "", [user.username, user.full_name])
    too_long = limits.message("StaffUser", "password", new or "")
    if too_long or problems:
        fields["new_password"] = too_long or " ".join(problems)
    if (new or "") != (confirm or ""):
        fields["confirm_password"] = "The two new passwords are not the same."
    return fields


def change_own_password(username: str, current: str, new: str, confirm: str) -> StaffUser:
    """A staff user changes their own password: the current one must be right, the new one must follow
    the password rules (``domain.membership.staff_password_problems``) and match its confirmation."""
    user = _user(username)
    fields = {}
    if not verify_secret(user.password_hash, current or ""):
        fields["current_password"] = "The current password is not right."
    fields.update(_new_password_problems(user, new, confirm))
    if fields:
        raise PasswordError(fields)
    with StaffUser._meta.database.atomic():
        StaffUser.update(password_hash=hash_secret(new)).where(StaffUser.id == user.id).execute()
        audit(user.username, "staff.password_change", detail=f"{user.username} changed their own password")
    return StaffUser.get_by_id(user.id)


def set_password(username: str, new: str, confirm: str, operator: str) -> StaffUser:
    """An administrator sets a new password for another staff user (same rules; the other user's
    sessions end at their next request)."""
    user = _user(username)
    if user.username == operator:
        raise StaffError("Change your own password under My password (it asks for the current one).")
    fields = _new_password_problems(user, new, confirm)
    if fields:
        raise PasswordError(fields)
    with StaffUser._meta.database.atomic():
        StaffUser.update(password_hash=hash_secret(new)).where(StaffUser.id == user.id).execute()
        audit(operator, "staff.password_set", detail=f"New password set for {user.username}")
    return StaffUser.get_by_id(user.id)


def set_active(username: str, active: bool, operator: str) -> StaffUser:
    """Deactivate (or reactivate) a staff account. A deactivated account cannot log in and its open
    sessions end at their next request. Nobody deactivates their own account (so an administrator
    always remains)."""
    user = _user(username)
    if user.username == operator and not active:
        raise StaffError("You cannot deactivate your own account.")
    with StaffUser._meta.database.atomic():
        changed = StaffUser.update(active=active).where(
            (StaffUser.id == user.id) & (StaffUser.active == (not active))).execute()
        if not changed:
            raise StaffError(f"{user.username} is already {'active' if active else 'deactivated'}.")
        audit(operator, "staff.reactivate" if active else "staff.deactivate", detail=user.username)
    return StaffUser.get_by_id(user.id)


def set_role(username: str, role: str, operator: str) -> StaffUser:
    """An administrator (``operator``, active) changes another staff user's role. Nobody changes their own
    role, so an administrator always remains: the one making the change. The account's open sessions have
    the new role's rights from their next request (the station reads the role at every request)."""
    if role not in ROLES:
        raise StaffError(f"Unknown role {role!r}; choose one of {', '.join(ROLES.values())}.")
    user = _user(username)
    if user.username == operator:
        raise StaffError("You cannot change your own role (another administrator can).")
    with StaffUser._meta.database.atomic():
        # Lock both rows (in id order) on PostgreSQL, so two administrators demoting each other at the same
        # moment are decided one after the other: the second is no longer an administrator and is refused.
        query = StaffUser.select().where(StaffUser.username.in_([user.username, operator])).order_by(StaffUser.id)
        if is_postgres():
            query = query.for_update()
        rows = {row.username: row for row in query}
        by = rows.get(operator)
        if by is None or not by.has_role("administrator"):
            raise StaffError("Only an active administrator can change a staff user's role.")
        before = rows[user.username].role
        if before == role:
            raise StaffError(f"{user.username} is already {ROLES[role]}.")
        StaffUser.update(role=role).where(StaffUser.id == user.id).execute()
        audit(operator, "staff.role", detail=f"{user.username}: {ROLES.get(before, before)} -> {ROLES[role]}")
    return StaffUser.get_by_id(user.id)


def audit(operator: str, action: str, primary_id: str = "", detail: str = "") -> AuditEntry:
    """Record a change; call inside the same transaction as the change itself."""
    return AuditEntry.create(operator=operator, action=action, primary_id=primary_id or "", detail=detail[:4000])


def audit_log(primary_id: str | None = None, limit: int = 200) -> list[AuditEntry]:
    query = AuditEntry.select().order_by(AuditEntry.created.desc(), AuditEntry.id.desc()).limit(limit)
    if primary_id:
        query = query.where(AuditEntry.primary_id == primary_id)
    return list(query)


def ensure_demo_staff() -> StaffUser:
    """The demo administrator ``admin`` / ``DEMO_STAFF_PASSWORD``, created if missing."""
    found = StaffUser.get_or_none(StaffUser.username == DEMO_STAFF_USER)
    return found or create_staff(DEMO_STAFF_USER, DEMO_STAFF_PASSWORD, "administrator", "Demo administrator")


def session_expired(last_seen: float, now: float, minutes: int) -> bool:
    return now - last_seen > dt.timedelta(minutes=minutes).total_seconds()
