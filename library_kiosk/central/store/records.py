"""Updating a patron record from the station: general information and segment rows.

Internal records: every segment can be edited, added, duplicated or deleted.
External records belong to the patron feed (SITS, MyHR, the Services System): only
notes and card serial numbers may be kept locally, as Internal segments the next feed
leaves alone. Every write records a change (kiosks sync it) and an audit entry.
"""
from __future__ import annotations

import datetime as dt

import peewee as pw

from library_kiosk.central.store import changes, limits, patron_search, staff
from library_kiosk.central.store.db import database
from library_kiosk.central.store.fleet_keys import pin_fields
from library_kiosk.central.store.models import Address, Email, Identifier, Note, Phone, Statistic, User, _now
from library_kiosk.central.store.registration import (
    Invalid,
    check_address,
    check_email,
    check_group,
    check_identifier,
    check_names,
    check_secrets,
    parse_date,
    text,
)
from library_kiosk.domain import clock, codes
from library_kiosk.domain.hashing import hash_secret

ROW_MODELS = {"email": Email, "address": Address, "identifier": Identifier, "statistic": Statistic,
              "note": Note, "phone": Phone}
EXTERNAL_NOTICE = ("This is an external record: the patron feed from {source} owns it, and changes made here "
                   "would be reversed at the next synchronisation. Ask the patron to update their details with "
                   "the owning office. Notes and card serial numbers can be kept locally as internal segments.")


class Refused(ValueError):
    """The change is not allowed on this record; the message says why."""


def is_external(user: User) -> bool:
    return user.account_type == "EXTERNAL"


def row_editable(user: User, kind: str, row=None, id_type: str = "") -> bool:
    if not is_external(user):
        return True
    if kind == "note":
        return row is None or row.segment_type == "Internal"
    if kind == "identifier":
        id_type = row.id_type if row is not None else id_type
        return id_type == "CARD_SERIAL_NUMBER" and (row is None or row.segment_type == "Internal")
    return False


def _write(user: User, operator: str, action: str, detail: str, work):
    with database.atomic():
        result = work()
        User.update(updated=_now()).where(User.id == user.id).execute()
        changes.record(user.primary_id)
        staff.audit(operator, action, user.primary_id, detail)
    return result


def update_general(user: User, form, operator: str, today: dt.date | None = None) -> None:
    """First and last name, user group, expiry date, status; password and PIN when given."""
    if is_external(user):
        raise Refused(EXTERNAL_NOTICE.format(source=codes.describe(codes.SOURCE_SYSTEMS, user.external_id)))
    errors: dict[str, str] = {}
    values = check_names(form, errors)
    group = check_group(form, errors)
    expiry = parse_date(text(form, "expiry_date"))
    if expiry is None:
        errors["expiry_date"] = "Enter the expiry date (card expiry + 1 day), YYYY-MM-DD."
    elif problem := limits.expiry_problem(expiry, today or clock.today()):
        errors["expiry_date"] = problem
    status = text(form, "status") or "ACTIVE"
    if status not in codes.USER_STATUSES:
        errors["status"] = "Choose a status."
    secrets = check_secrets(form, errors, group, [user.primary_id, values["first_name"], values["last_name"]],
                            required=False)
    if errors:
        raise Invalid(errors)
    fields = dict(values, user_group=group, expiry_date=expiry, status=status)
    if secrets["pin"]:
        fields.update(pin_fields(user.primary_id, secrets["pin"]))  # the slow hash and the offline check value
    if secrets["password"]:
        fields["password_hash"] = hash_secret(secrets["password"])
    changed = sorted(k for k in fields if k.endswith("_hash") or str(getattr(user, k)) != str(fields[k])
                     if k != "pin_check")  # said as pin_hash
    _write(user, operator, "patron.update", "changed " + (", ".join(changed) or "nothing"),
           lambda: (User.update(**fields).where(User.id == user.id).execute(), patron_search.refresh([user.id])))


def set_rs_library(user: User, library: str, operator: str, rs_libraries=()) -> bool:
    """Change the resource sharing library of an internal record to one of ``rs_libraries`` (``[provisioning]
    rs_libraries``) or to none (""); a library no longer configured may only be kept. Audited, and recorded as a
    change so kiosks sync the record. Returns False (and writes nothing) when the library is the same."""
    if is_external(user):
        raise Refused(EXTERNAL_NOTICE.format(source=codes.describe(codes.SOURCE_SYSTEMS, user.external_id)))
    library = (library or "").strip()
    before = user.rs_library or ""
    if library == before:
        return False
    if library and library not in [str(name) for name in rs_libraries or ()]:
        raise Invalid({"rs_library": "Choose a resource sharing library from the list."})
    _write(user, operator, "patron.rs_library", f"rs_library {before or 'none'} -> {library or 'none'}",
           lambda: User.update(rs_library=library).where(User.id == user.id).execute())
    return True


def clean_row(user: User, kind: str, form, row=None) -> dict:
    errors: dict[str, str] = {}
    if kind == "email":
        values = check_email(form, errors)
    elif kind == "address":
        values = check_address(form, errors)
    elif kind == "phone":
        values = {"phone_number": text(form, "phone_number"), "phone_types": text(form, "phone_type") or "mobile"}
        if not values["phone_number"]:
            errors["phone_number"] = "Enter a phone number."
        limits.check("Phone", {"phone_number": values["phone_number"]}, errors)
    elif kind == "statistic":
        values = {"statistic_category": text(form, "statistic_category")}
        if values["statistic_category"] not in codes.STATISTIC_CATEGORIES:
            errors["statistic_category"] = "Choose a statistical category."
    elif kind == "note":
        values = {"note_text": text(form, "note_text"), "note_type": text(form, "note_type") or "OTHER",
                  "user_viewable": bool(form.get("user_viewable"))}
        if not values["note_text"]:
            errors["note_text"] = "Write the note."
        limits.check("Note", {"note_text": values["note_text"]}, errors)
    elif kind == "identifier":
        id_type = text(form, "id_type") or (row.id_type if row is not None else "")
        if id_type not in codes.IDENTIFIER_TYPES:
            errors["id_type"] = "Choose an identifier type."
        value = check_identifier(errors, "value", id_type, text(form, "value"), owner=user)
        values = {"id_type": id_type, "value": value, "note": text(form, "note")}
        limits.check("Identifier", {"note": values["note"]}, errors)
    else:
        raise Refused(f"Unknown segment {kind!r}.")
    if errors:
        raise Invalid(errors)
    return values


def save_row(user: User, kind: str, form, operator: str, row_id: int | None = None):
    """Add a row (``row_id`` None) or edit one; refuses what the record type does not allow."""
    model = ROW_MODELS.get(kind)
    if model is None:
        raise Refused(f"Unknown segment {kind!r}.")
    row = model.get_or_none((model.id == row_id) & (model.user == user)) if row_id else None
    if row_id and row is None:
        raise Refused("That row is not on this record.")
    if not row_editable(user, kind, row, text(form, "id_type")):
        raise Refused("This segment comes from the patron feed and cannot be changed here.")
    values = clean_row(user, kind, form, row)
    if kind == "note" and row is None:
        values.setdefault("created_by", operator)
    if is_external(user):
        values["segment_type"] = "Internal"

    def work():
        if row is None:
            return model.create(user=user, **values)
        model.update(**values).where(model.id == row.id).execute()
        return row
    try:
        return _write(user, operator, f"{kind}.{'edit' if row else 'add'}", _describe(values), work)
    except pw.IntegrityError:
        raise Invalid({"value" if kind == "identifier" else "form": "This value is already on the record, or was "
                       "just added to another one; nothing was saved."}) from None


def delete_row(user: User, kind: str, row_id: int, operator: str) -> None:
    model = ROW_MODELS.get(kind)
    row = model.get_or_none((model.id == row_id) & (model.user == user)) if model else None
    if row is None:
        raise Refused("That row is not on this record.")
    if not row_editable(user, kind, row):
        raise Refused("This segment comes from the patron feed and cannot be changed here.")
    _write(user, operator, f"{kind}.delete", _describe(row.__data__), lambda: row.delete_instance())


def duplicate_row(user: User, kind: str, row_id: int, operator: str):
    """A copy of an email, address, phone, statistic or note row (identifiers are unique)."""
    if kind == "identifier":
        raise Refused("Identifiers are unique; add a new one instead of duplicating.")
    model = ROW_MODELS.get(kind)
    row = model.get_or_none((model.id == row_id) & (model.user == user)) if model else None
    if row is None or not row_editable(user, kind, row):
        raise Refused("That row cannot be duplicated here.")
    data = {k: v for k, v in row.__data__.items() if k not in ("id", "preferred", "created")}
    return _write(user, operator, f"{kind}.duplicate", _describe(data), lambda: model.create(**data))


def _describe(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items() if k not in ("user", "id") and v not in ("", None)
                     and not isinstance(v, dt.datetime))
