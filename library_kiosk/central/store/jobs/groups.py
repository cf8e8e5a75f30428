"""User groups: importing and editing them (with their policy), a utilisation report, moving a group's users,
removing an unused group.

A group is configured data: created and edited at the station (administrators, ``save_group``) or imported
from a CSV file (``import_groups``, ``kiosk admin groups import FILE``): columns ``code`` and ``description``,
then the policy: a ``policy`` column of ``field=value`` pairs separated by ``;`` and/or one column per field
(``POLICY_FIELDS``); a field left out takes ``[feed] default_group_policy`` for a new group and stays as it is
for an existing one.

Last activity of a group is the latest of: a loan made to the group (``Loan.user_group``,
which survives anonymisation), a request made by one of its users, a change to one
of its users' records (``User.updated``). A group is removed only when no user is
in it and the feed mapping (``[feed] user_groups`` in the settings) does not map
any source code to it.
"""
from __future__ import annotations

import csv
import datetime as dt
import decimal

from peewee import fn

from library_kiosk.central.store import changes, limits, staff
from library_kiosk.central.store.db import database
from library_kiosk.central.store.jobs.common import _chunks, refresh_documents
from library_kiosk.central.store.jobs.report import JobRefused, JobReport, Progress, run_job
from library_kiosk.central.store.models import Loan, Request, User, UserGroup, _now


def _day(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return value.date() if isinstance(value, dt.datetime) else value


def utilisation(*, today: dt.date, feed_mapping: dict | None = None) -> list[dict]:
    """One row per group: users, active users, last activity, whether the feed maps to it."""
    mapping = feed_mapping or {}
    users = dict(User.select(User.user_group, fn.COUNT(User.id)).group_by(User.user_group).tuples())
    active = dict(User.select(User.user_group, fn.COUNT(User.id)).where(
        (User.status == "ACTIVE") & (User.expiry_date.is_null() | (User.expiry_date >= today)))
        .group_by(User.user_group).tuples())
    updated = dict(User.select(User.user_group, fn.MAX(User.updated)).group_by(User.user_group).tuples())
    loans = dict(Loan.select(Loan.user_group, fn.MAX(Loan.loan_date)).group_by(Loan.user_group).tuples())
    requests = dict(Request.select(User.user_group, fn.MAX(Request.request_date)).join(User)
                    .group_by(User.user_group).tuples())
    rows = []
    for group in UserGroup.select().order_by(UserGroup.code):
        dates = [d for d in (_day(updated.get(group.code)), _day(loans.get(group.code)),
                             _day(requests.get(group.code))) if d]
        rows.append({"code": group.code, "description": group.description, "users": users.get(group.code, 0),
                     "active_users": active.get(group.code, 0), "last_activity": max(dates) if dates else None,
                     "feed_codes": sorted(k for k, v in mapping.items() if v == group.code)})
    return rows


def group_report(*, operator: str, today: dt.date, feed_mapping: dict | None = None) -> JobReport:
    def body(report: JobReport) -> None:
        rows = utilisation(today=today, feed_mapping=feed_mapping)
        report.counts.update({"groups": len(rows), "unused": sum(1 for r in rows if not r["users"])})
        for row in rows:
            report.add("groups", row)

    return run_job("groups.report", {}, operator, True, body)


def move_group(*, from_group: str, to_group: str, operator: str, today: dt.date | None = None,
               dry_run: bool = False, batch_size: int = 1000, progress: Progress | None = None) -> JobReport:
    """Move every user of ``from_group`` to ``to_group`` (a Change per user; their kiosk documents are rebuilt in
    the sync read model at the end of the run)."""
    parameters = {"from_group": from_group, "to_group": to_group}

    def body(report: JobReport) -> None:
        if from_group == to_group:
            raise JobRefused("the groups are the same")
        for code in (from_group, to_group):
            if not UserGroup.select().where(UserGroup.code == code).exists():
                raise JobRefused(f"no user group {code!r}")
        users = list(User.select(User.id, User.primary_id).where(User.user_group == from_group)
                     .order_by(User.id).tuples())
        report.counts["moved"] = 0
        done = 0
        for batch in _chunks(users, batch_size):
            for _uid, pid in batch:
                report.add("moved", pid)
            if not dry_run:
                with database.atomic():
                    User.update(user_group=to_group, updated=_now()).where(
                        User.id.in_([uid for uid, _pid in batch])).execute()
                    changes.record_many([pid for _uid, pid in batch])
            done += len(batch)
            if progress:
                progress(done, len(users))
        if not dry_run:
            refresh_documents([pid for _uid, pid in users])  # committed: the kiosks' documents, ahead of their sync

    return run_job("groups.move", parameters, operator, dry_run, body)


def remove_group(*, code: str, operator: str, feed_mapping: dict | None = None, today: dt.date | None = None,
                 dry_run: bool = False, progress: Progress | None = None) -> JobReport:
    """Delete an unused user group; refused while a user or the feed mapping uses it."""
    mapping = feed_mapping or {}

    def body(report: JobReport) -> None:
        with database.atomic():
            if not UserGroup.select().where(UserGroup.code == code).exists():
                raise JobRefused(f"no user group {code!r} (already removed?)")
            users = User.select().where(User.user_group == code).count()
            if users:
                raise JobRefused(f"{users:,} users are still in group {code}; move them first")
            codes = sorted(k for k, v in mapping.items() if v == code)
            if codes:
                raise JobRefused(f"the feed mapping still maps {', '.join(codes)} to group {code}; "
                                 f"change [feed] user_groups first")
            report.add("removed", code)
            if not dry_run:
                UserGroup.delete().where(UserGroup.code == code).execute()
        if progress:
            progress(1, 1)

    return run_job("groups.remove", {"code": code, "feed_mapping": mapping}, operator, dry_run, body)


# --- groups as configuration --------------------------------------------------------------------------------

POLICY_FIELDS = ("pin_required", "loan_limit", "loan_period_days", "max_renewals", "fine_limit", "overdue_limit",
                 "registration_fee_type", "registration_fee_amount", "statistics_required")
_FLAGS = {"true": True, "yes": True, "1": True, "on": True, "false": False, "no": False, "0": False, "off": False}


def policy_value(name: str, text) -> object:
    """A policy field's value from text (a CSV cell, a form) or a settings value; ValueError says what is wrong."""
    field = UserGroup._meta.fields.get(name)
    if name not in POLICY_FIELDS or field is None:
        raise ValueError(f"unknown policy field {name!r} (one of {', '.join(POLICY_FIELDS)})")
    raw = str(text).strip().lower() if not isinstance(text, (bool, int, float)) else text
    if name in ("pin_required", "statistics_required"):
        if isinstance(raw, bool):
            return raw
        if raw not in _FLAGS:
            raise ValueError(f"{name} must be true or false, not {text!r}")
        return _FLAGS[raw]
    if name in ("fine_limit", "registration_fee_amount"):
        try:
            amount = decimal.Decimal(str(raw))
        except decimal.InvalidOperation:
            raise ValueError(f"{name} must be an amount, not {text!r}") from None
        if not amount.is_finite() or amount < 0 or amount >= 10 ** 8:
            raise ValueError(f"{name} must be an amount from 0, not {text!r}")
        return amount.quantize(decimal.Decimal("0.01"))
    if name == "registration_fee_type":
        return str(text).strip()[:40]
    try:
        number = int(str(raw))
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {text!r}") from None
    if not 0 <= number < 1_000_000:
        raise ValueError(f"{name} must be from 0 to 999,999, not {text!r}")
    return number


def policy_values(given: dict) -> dict:
    """The policy fields of ``given`` (names -> text), typed; empty values are left out."""
    return {name: policy_value(name, value) for name, value in given.items() if str(value).strip() != ""}


def check_group(code: str, description: str) -> tuple[str, str]:
    code, description = (code or "").strip(), (description or "").strip()
    longest_code, longest_description = (limits.LENGTHS["UserGroup"][name].most for name in ("code", "description"))
    if not code or len(code) > longest_code or any(c.isspace() or not c.isprintable() for c in code):
        raise ValueError(f"bad group code {code!r} (1 to {longest_code} characters, no spaces)")
    if not description or len(description) > longest_description:
        raise ValueError(f"the description must be 1 to {longest_description} characters")
    return code, description


def save_group(code: str, description: str, policy: dict, *, operator: str, default_policy: dict | None = None,
               create: bool | None = None) -> tuple[UserGroup, bool]:
    """Create or update a user group (``create``: True only creates, False only updates); (group, created).
    ``policy``: field -> text; a field left out takes ``default_policy`` on a new group. Audited."""
    code, description = check_group(code, description)
    values = policy_values(policy)
    with database.atomic():
        group = UserGroup.get_or_none(UserGroup.code == code)
        if group is None and create is False:
            raise ValueError(f"no user group {code!r}")
        if group is not None and create:
            raise ValueError(f"the user group {code!r} exists already (edit it)")
        if group is None:
            defaults = policy_values(dict(default_policy or {}))
            UserGroup.create(code=code, description=description, **{**defaults, **values})
            staff.audit(operator, "group:create", "", f"{code} {description} {_shown(values)}".strip())
            return UserGroup.get_by_id(code), True
        UserGroup.update(description=description, **values).where(UserGroup.code == code).execute()
        staff.audit(operator, "group:edit", "", f"{code} {description} {_shown(values)}".strip())
    return UserGroup.get_by_id(code), False


def _shown(values: dict) -> str:
    return "; ".join(f"{k}={v}" for k, v in values.items())


def _differs(group: UserGroup, description: str, values: dict) -> bool:
    if group.description != description:
        return True
    return any(str(getattr(group, name)) != str(value) for name, value in values.items())


def read_group_rows(path, encoding: str = "utf-8"):
    """Yield ``(line, code, description, policy values)`` or ``(line, code, error)`` per row of a groups CSV."""
    with open(path, newline="", encoding="utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding) as f:
        reader = csv.reader(f)
        header = [h.strip().lower() for h in next(reader, [])]
        missing = [c for c in ("code", "description") if c not in header]
        if missing:
            raise JobRefused(f"missing columns: {', '.join(missing)} (code, description, then policy, or one "
                             f"column per policy field: {', '.join(POLICY_FIELDS)})")
        unknown = [h for h in header if h not in ("code", "description", "policy", *POLICY_FIELDS)]
        if unknown:
            raise JobRefused(f"unknown columns: {', '.join(unknown)} (the policy fields are "
                             f"{', '.join(POLICY_FIELDS)})")
        for row in reader:
            if not row or not any(cell.strip() for cell in row):
                continue
            cells = dict(zip(header, (c.strip() for c in row)))
            line = reader.line_num
            try:
                if len(row) != len(header):
                    raise ValueError(f"{len(row)} fields where the header has {len(header)}")
                code, description = check_group(cells.get("code", ""), cells.get("description", ""))
                given = dict(_pairs(cells.get("policy", "")))
                given.update({k: v for k, v in cells.items() if k in POLICY_FIELDS and v})
                yield line, code, description, policy_values(given)
            except ValueError as exc:
                yield line, cells.get("code", ""), str(exc)


def _pairs(text: str):
    for part in text.split(";"):
        if part.strip():
            name, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"bad policy entry {part.strip()!r} (expected field=value)")
            yield name.strip().lower(), value.strip()


def import_groups(path, *, operator: str, default_policy: dict | None = None, dry_run: bool = False,
                  encoding: str = "utf-8", today: dt.date | None = None) -> JobReport:
    """Create or update the user groups of a CSV file (counts: created, updated, unchanged, rejected)."""
    defaults = policy_values(dict(default_policy or {}))

    def body(report: JobReport) -> None:
        for key in ("created", "updated", "unchanged", "rejected"):
            report.counts[key] = 0
        seen = {}
        try:
            rows = list(read_group_rows(path, encoding))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise JobRefused(f"{path}: {exc}") from None
        with database.atomic():
            for line, code, *rest in rows:
                if len(rest) == 1 or code in seen:
                    why = rest[0] if len(rest) == 1 else f"code {code} also on line {seen[code]}"
                    report.add("rejected", {"line": line, "code": code, "reason": why})
                    continue
                seen[code] = line
                description, values = rest
                group = UserGroup.get_or_none(UserGroup.code == code)
                if group is None:
                    report.add("created", code)
                    if not dry_run:
                        UserGroup.create(code=code, description=description, **{**defaults, **values})
                elif _differs(group, description, values):
                    report.add("updated", code)
                    if not dry_run:
                        UserGroup.update(description=description, **values).where(UserGroup.code == code).execute()
                else:
                    report.count("unchanged")

    return run_job("groups.import", {"file": str(path), "encoding": encoding}, operator, dry_run, body)
