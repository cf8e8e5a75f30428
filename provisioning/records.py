"""Updating a record: general information and the segment rows (add, edit, duplicate, delete)."""
from __future__ import annotations

from flask import Blueprint, request, url_for
from htmx_flask import request as htmx_request

from library_kiosk.central.store import accounts
from library_kiosk.central.store.records import (
    ROW_MODELS,
    Refused,
    delete_row,
    duplicate_row,
    is_external,
    row_editable,
    save_row,
    set_rs_library,
    update_general,
)
from library_kiosk.central.store.registration import Invalid
from provisioning.patrons import patron_page, rs_libraries
from provisioning.views import cleared_secrets, done, operator, or_404, render, requires, today

bp = Blueprint("records", __name__, url_prefix="/patrons/<primary_id>")
TAB_OF = {"email": "contact", "address": "contact", "phone": "contact", "identifier": "identifiers",
          "statistic": "statistics", "note": "notes"}


def _user(primary_id):
    return or_404(accounts.get_user(primary_id))


def _attempt(primary_id, tab, work, notice: str):
    try:
        work()
    except Invalid as exc:
        return patron_page(primary_id, 422, tab=tab, form=request.form, errors=exc.errors,
                           error=" ".join(filter(None, ("Nothing was saved: correct the fields marked below.",
                                                        cleared_secrets(request.form)))))
    except Refused as exc:
        return patron_page(primary_id, 403, tab=tab, error=str(exc))
    return done(url_for("patrons.patron", primary_id=primary_id, tab=tab), notice)


@bp.post("/general")
@requires("user_manager")
def general(primary_id):
    user = _user(primary_id)
    return _attempt(primary_id, "general", lambda: update_general(user, request.form, operator(), today()),
                    "General information saved.")


@bp.post("/rs-library")
@requires("user_manager")
def rs_library(primary_id):
    """Change the resource sharing library of an internal record (its own small form on the General tab)."""
    user = _user(primary_id)
    try:
        changed = set_rs_library(user, request.form.get("rs_library", ""), operator(), rs_libraries())
    except Invalid as exc:
        return patron_page(primary_id, 422, tab="general", rs_errors=exc.errors,
                           error="Nothing was saved: choose a resource sharing library from the list.")
    except Refused as exc:
        return patron_page(primary_id, 403, tab="general", error=str(exc))
    return done(url_for("patrons.patron", primary_id=primary_id, tab="general"),
                "Resource sharing library saved." if changed else "The resource sharing library is unchanged.")


@bp.app_template_global()
def rs_library_options(user) -> list[tuple[str, str]]:
    """The choices of a record's resource sharing library: the configured ones, and the record's own if it is
    no longer configured (it may be kept, not chosen again)."""
    names = rs_libraries()
    options = [(name, name) for name in names]
    if user.rs_library and user.rs_library not in names:
        options.insert(0, (user.rs_library, f"{user.rs_library} (no longer in the list)"))
    return options


@bp.post("/rows/<kind>")
@bp.post("/rows/<kind>/<int:row_id>")
@requires("user_manager")
def save(primary_id, kind, row_id=None):
    user = _user(primary_id)
    if row_id and request.form.get("inline") and htmx_request.htmx:
        return _save_inline(user, kind, row_id)
    return _attempt(primary_id, TAB_OF.get(kind, "general"),
                    lambda: save_row(user, kind, request.form, operator(), row_id),
                    "Row saved." if row_id else "Row added.")


def _row(user, kind, row_id):
    model = ROW_MODELS.get(kind)
    return or_404(model.get_or_none((model.id == row_id) & (model.user == user)) if model else None)


def _row_context(user):
    return {"user": user, "external": is_external(user),
            "editable": lambda kind, row=None, id_type="": row_editable(user, kind, row, id_type)}


def _edit_values(kind, row) -> dict:
    """The inline form's values for a stored row (the names ``library_kiosk.central.store.records.clean_row`` reads)."""
    data = row.__data__
    return {"email": {"email": data.get("email_address"), "email_type": data.get("email_types")},
            "address": {"address_type": data.get("address_types"), **{k: data.get(k) for k in
                        ("line1", "line2", "city", "postal_code", "country")}},
            "phone": {"phone_number": data.get("phone_number"), "phone_type": data.get("phone_types")},
            }.get(kind, data)


@bp.get("/rows/<kind>/<int:row_id>")
@requires("user_manager")
def row(primary_id, kind, row_id):
    """The row on display (after an inline edit is cancelled)."""
    user = _user(primary_id)
    return render("_row.html", kind=kind, row=_row(user, kind, row_id), **_row_context(user))


@bp.get("/rows/<kind>/<int:row_id>/edit")
@requires("user_manager")
def edit(primary_id, kind, row_id):
    """The row as an inline form, swapped in place of the row."""
    user = _user(primary_id)
    found = _row(user, kind, row_id)
    if not row_editable(user, kind, found):
        return render("_row.html", 403, kind=kind, row=found, **_row_context(user))
    return render("_row_edit.html", kind=kind, row=found, f=_edit_values(kind, found), errors={}, error="",
                  **_row_context(user))


def _save_inline(user, kind, row_id):
    found = _row(user, kind, row_id)
    try:
        save_row(user, kind, request.form, operator(), row_id)
    except Invalid as exc:
        return render("_row_edit.html", 422, kind=kind, row=found, f=request.form, errors=exc.errors,
                      error=exc.errors.get("form", "Nothing was saved: correct the fields marked below."),
                      **_row_context(user))
    except Refused as exc:
        return render("_row_edit.html", 403, kind=kind, row=found, f=request.form, errors={}, error=str(exc),
                      **_row_context(user))
    return render("_row.html", kind=kind, row=_row(user, kind, row_id), **_row_context(user))


@bp.post("/rows/<kind>/<int:row_id>/delete")
@requires("user_manager")
def delete(primary_id, kind, row_id):
    user = _user(primary_id)
    return _attempt(primary_id, TAB_OF.get(kind, "general"), lambda: delete_row(user, kind, row_id, operator()),
                    "Row deleted.")


@bp.post("/rows/<kind>/<int:row_id>/duplicate")
@requires("user_manager")
def duplicate(primary_id, kind, row_id):
    user = _user(primary_id)
    return _attempt(primary_id, TAB_OF.get(kind, "general"), lambda: duplicate_row(user, kind, row_id, operator()),
                    "Row duplicated.")
