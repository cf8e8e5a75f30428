"""Updating a record: general information and the segment rows (add, edit, duplicate, delete)."""
from __future__ import annotations

from flask import Blueprint, request

from store import accounts
from store.records import Refused, delete_row, duplicate_row, save_row, update_general
from store.registration import Invalid
from provisioning.patrons import patron_page
from provisioning.views import operator, or_404, requires

bp = Blueprint("records", __name__, url_prefix="/patrons/<primary_id>")
TAB_OF = {"email": "contact", "address": "contact", "phone": "contact", "identifier": "identifiers",
          "statistic": "statistics", "note": "notes"}


def _user(primary_id):
    return or_404(accounts.get_user(primary_id))


def _attempt(primary_id, tab, work, done: str):
    try:
        work()
    except Invalid as exc:
        return patron_page(primary_id, 422, tab=tab, form=request.form, errors=exc.errors,
                           error="Nothing was saved: correct the fields marked below.")
    except Refused as exc:
        return patron_page(primary_id, 403, tab=tab, error=str(exc))
    return patron_page(primary_id, tab=tab, notice=done)


@bp.post("/general")
@requires("user_manager")
def general(primary_id):
    user = _user(primary_id)
    return _attempt(primary_id, "general", lambda: update_general(user, request.form, operator()),
                    "General information saved.")


@bp.post("/rows/<kind>")
@bp.post("/rows/<kind>/<int:row_id>")
@requires("user_manager")
def save(primary_id, kind, row_id=None):
    user = _user(primary_id)
    return _attempt(primary_id, TAB_OF.get(kind, "general"),
                    lambda: save_row(user, kind, request.form, operator(), row_id),
                    "Row saved." if row_id else "Row added.")


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
