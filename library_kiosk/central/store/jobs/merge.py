"""Merge a duplicate user record into the record kept (Alma's Merge Users job).

The duplicate (``from``) must have the patron role only (``roles == "PATRON"``);
a record with any staff role is refused. Chosen segments (``notes``,
``identifiers``, ``statistics``, ``contact`` = emails, addresses and phones,
``blocks``, ``roles`` = Alma's user roles) move to the kept record; the others go with
the duplicate. ``details`` fills the Alma fields the kept record leaves empty (full
name, title, preferred names, job description and category, campus, birth date,
gender) from the duplicate's; a value the kept record has is never replaced. Merging an
INTERNAL duplicate into an EXTERNAL record needs an explicit
``copy_as_internal`` (True: the copies become Internal segments, protected from the
feed; False: they stay as they are and an External copy is replaced by the next
feed). ``copy_as_internal=True`` may be given for any merge. Loans, requests and
fees (with their transactions) always move. Then the duplicate is deleted; the
kiosks get a ``delete`` change for it and an ``upsert`` for the kept record (both
refreshed in the sync read model once committed).
Irreversible: run with ``dry_run`` first.
"""
from __future__ import annotations

import datetime as dt

from library_kiosk.central.store import changes
from library_kiosk.central.store.db import database
from library_kiosk.central.store.jobs.common import one_by_one, refresh_documents
from library_kiosk.central.store.jobs.report import JobRefused, JobReport, Progress, run_job
from library_kiosk.central.store.models import (
    Address,
    Block,
    Email,
    Fee,
    Identifier,
    Loan,
    Note,
    Phone,
    Request,
    Statistic,
    User,
    UserRole,
    _now,
)

SEGMENTS = {
    "notes": (Note,),
    "identifiers": (Identifier,),
    "statistics": (Statistic,),
    "contact": (Email, Address, Phone),
    "blocks": (Block,),
    "roles": (UserRole,),
    "details": (),  # the fields of DETAILS, filled where the kept record has none (_fill_details)
}
DETAILS = ("full_name", "user_title", "pref_first_name", "pref_middle_name", "pref_last_name", "job_description",
           "job_category", "campus_code", "birth_date", "gender")
ACTIVITY = {"loans": Loan, "requests": Request, "fees": Fee}


def roles_of(user: User) -> list[str]:
    return [r.strip().upper() for r in (user.roles or "").split(",") if r.strip()]


def merge_users(*, duplicate: str, keep: str, operator: str, today: dt.date | None = None,
                segments=tuple(SEGMENTS), copy_as_internal: bool | None = None, dry_run: bool = False,
                progress: Progress | None = None) -> JobReport:
    segments = sorted(set(segments))
    parameters = {"duplicate": duplicate, "keep": keep, "segments": segments, "copy_as_internal": copy_as_internal}

    def body(report: JobReport) -> None:
        _check_choice(segments, duplicate, keep)
        with database.atomic():
            source, target = _records(duplicate, keep, copy_as_internal)
            for name in one_by_one([*segments, *ACTIVITY], progress):  # a progress step per segment, per activity
                if name in ACTIVITY:
                    _move_activity(report, name, source, target, dry_run)
                elif name == "details":
                    _fill_details(report, source, target, dry_run)
                else:
                    _move_segment(report, name, source, target, copy_as_internal, dry_run)
            report.add("deleted", duplicate)
            report.add("kept", keep)
            if not dry_run:
                _replace(source, target, duplicate, keep)
        if not dry_run:
            refresh_documents([duplicate, keep])  # committed: the kiosks' documents, ahead of their sync

    return run_job("merge", parameters, operator, dry_run, body)


def _check_choice(segments: list[str], duplicate: str, keep: str) -> None:
    """Refuse what is wrong whatever the records hold, before reading them."""
    unknown = [s for s in segments if s not in SEGMENTS]
    if unknown:
        raise JobRefused(f"unknown segments {', '.join(unknown)} (choose from {', '.join(SEGMENTS)})")
    if duplicate == keep:
        raise JobRefused("the duplicate and the record kept are the same record")


def _records(duplicate: str, keep: str, copy_as_internal: bool | None) -> tuple[User, User]:
    """The duplicate and the record kept, refused unless both exist, the duplicate is a patron only, and the
    operator chose how internal segments are copied into an external record."""
    source = User.get_or_none(User.primary_id == duplicate)
    target = User.get_or_none(User.primary_id == keep)
    if source is None:
        raise JobRefused(f"no user {duplicate!r} (already merged?)")
    if target is None:
        raise JobRefused(f"no user {keep!r} to keep")
    if roles_of(source) != ["PATRON"]:
        raise JobRefused(f"{duplicate} has the roles {source.roles!r}; only a record with the patron role "
                         f"alone can be merged")
    if source.account_type == "INTERNAL" and target.account_type == "EXTERNAL" and copy_as_internal is None:
        raise JobRefused("merging an internal record into an external one: choose whether to copy the "
                         "segments as internal (copy_as_internal)")
    return source, target


def _move_segment(report: JobReport, name: str, source: User, target: User, copy_as_internal: bool | None,
                  dry_run: bool) -> None:
    """Move a chosen segment's rows (for ``contact``: the emails, addresses and phones) to the record kept,
    counted per table; as Internal segments, protected from the feed, when ``copy_as_internal``."""
    for model in SEGMENTS[name]:
        ids = _ids_of(model, source)
        if not ids:
            continue
        report.count(f"moved_{model._meta.table_name}", len(ids))
        if not dry_run:
            values = {"user": target.id}
            if copy_as_internal and "segment_type" in model._meta.fields:
                values["segment_type"] = "Internal"
            model.update(values).where(model.id.in_(ids)).execute()


def _fill_details(report: JobReport, source: User, target: User, dry_run: bool) -> None:
    """The duplicate's Alma fields (DETAILS) where the kept record has none, listed as ``filled`` (by name); a
    value the kept record has stays (on an external record the next feed sets them as the file says)."""
    filled = {name: getattr(source, name) for name in DETAILS
              if getattr(source, name) not in ("", None) and getattr(target, name) in ("", None)}
    for name in filled:
        report.add("filled", name)  # the field's name only: the job's stored report keeps no personal values
    if filled and not dry_run:
        User.update(**filled).where(User.id == target.id).execute()


def _move_activity(report: JobReport, name: str, source: User, target: User, dry_run: bool) -> None:
    """Move the duplicate's loans, requests or fees to the record kept (counted even when there are none).

    Requests move with their item barcodes, so a third patron's loan of such an item stays "requested by another
    patron" (by the kept record now instead of the duplicate): only the kept record's own loans can change that
    flag, and the kept record gets its change in ``_replace`` (store.changes.record_item_holders is for writes
    that remove or add requests; tests/store/jobs/test_item_holders.py)."""
    model = ACTIVITY[name]
    ids = _ids_of(model, source)
    report.counts[f"moved_{name}"] = len(ids)
    if ids and not dry_run:
        model.update(user=target.id).where(model.id.in_(ids)).execute()


def _ids_of(model, user: User) -> list[int]:
    return [r.id for r in model.select(model.id).where(model.user == user.id)]


def _replace(source: User, target: User, duplicate: str, keep: str) -> None:
    """Delete the duplicate and tell the kiosks: a ``delete`` for it, an ``upsert`` for the record kept."""
    User.update(updated=_now()).where(User.id == target.id).execute()
    source.delete_instance()
    changes.record(duplicate, kind="delete")
    changes.record(keep)
