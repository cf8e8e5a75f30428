"""Cards: whose card is this, replace a lost card, unlink, start-of-term batch, CSV import."""
from __future__ import annotations

from flask import Blueprint, request, session, url_for

from library_kiosk.central.store import accounts, cards
from library_kiosk.central.store.models import Identifier
from library_kiosk.central.store.registration import Invalid
from provisioning import formats
from provisioning.patrons import patron_page
from provisioning.views import (
    check_card_barcode,
    done,
    operator,
    or_404,
    render,
    requires,
    setting_amount,
    upstream_writer,
)

bp = Blueprint("cards", __name__)


@bp.get("/cards/whose")
def whose():
    value = request.args.get("card", "").strip()
    user, ident = cards.card_owner(value) if value else (None, None)
    return render("whose.html", value=value, user=user, ident=ident)


@bp.post("/patrons/<primary_id>/replace-card")
@requires("user_manager")
def replace(primary_id):
    user = or_404(accounts.get_user(primary_id))
    try:
        check_card_barcode(request.form)
        fee = cards.replace_card(user, request.form, operator(), setting_amount("card_replacement_fee"),
                                 writer=upstream_writer())
    except Invalid as exc:
        return patron_page(primary_id, 422, tab="identifiers", form=request.form, errors=exc.errors,
                           error="The card was not replaced: correct the fields marked below.")
    charged = f" A replacement fee of {formats.money(fee.original_amount)} was added." if fee else ""
    return done(url_for("patrons.patron", primary_id=primary_id, tab="identifiers"),
                "The old card is deactivated and the new card is on the record." + charged)


@bp.post("/patrons/<primary_id>/cards/<int:identifier_id>/unlink")
@requires("user_manager")
def unlink(primary_id, identifier_id):
    user = or_404(accounts.get_user(primary_id))
    try:
        cards.unlink_card(user, identifier_id, operator(), writer=upstream_writer())
    except Invalid as exc:
        return patron_page(primary_id, 422, tab="identifiers", error=exc.errors["card"])
    return done(url_for("patrons.patron", primary_id=primary_id, tab="identifiers"),
                "The card is unlinked from this record.")


def _batch() -> list[dict]:
    return session.setdefault("batch", [])


@bp.route("/cards/batch", methods=["GET", "POST"])
@requires("user_manager")
def batch():
    errors = {}
    if request.method == "POST":
        try:
            ident = cards.add_card_to_barcode(request.form.get("barcode", ""), request.form.get("card_serial", ""),
                                              operator(), writer=upstream_writer())
            added = _batch() + [{"id": ident.id, "barcode": request.form["barcode"].strip(), "card": ident.value,
                                 "primary_id": ident.user.primary_id, "name": f"{ident.user.first_name} "
                                                                              f"{ident.user.last_name}"}]
            session["batch"] = added
            return done(url_for("cards.batch"), f"Card {ident.value} added to {ident.user.primary_id}. Next card.")
        except Invalid as exc:
            errors = exc.errors
    return render("batch.html", 422 if errors else 200, rows=list(reversed(_batch())), errors=errors,
                  form=request.form if errors else {})


@bp.post("/cards/batch/undo")
@requires("user_manager")
def batch_undo():
    added = _batch()
    notice = "Nothing to undo."
    if added:
        last = added[-1]
        try:
            cards.undo_batch_card(last["id"], operator(), writer=upstream_writer())
        except Invalid as exc:
            return render("batch.html", 422, rows=list(reversed(added)), errors={}, notice="", form={},
                          error=next(iter(exc.errors.values())))
        added.pop()
        session["batch"] = added
        notice = f"Card {last['card']} removed from {last['primary_id']}."
    return done(url_for("cards.batch"), notice)


@bp.route("/cards/import", methods=["GET", "POST"])
@requires("user_manager")
def card_import():
    if request.method == "GET":
        return render("import.html", rows=None)
    upload = request.files.get("file")
    data = upload.read().decode("utf-8-sig", errors="replace") if upload else request.form.get("data", "")
    rows, imported = cards.import_cards(data, operator(), writer=upstream_writer())
    if not imported:  # every row with what is wrong; the file is chosen again after the corrections
        return render("import.html", 422, rows=rows, done=False)
    return done(url_for("cards.card_import"),  # post/redirect/get: a refresh never sends the file again
                f"All {len(rows)} {'row' if len(rows) == 1 else 'rows'} imported; each is in the audit log "
                "(action: Card imported).")


def card_rows(user) -> list[Identifier]:
    return list(Identifier.select().where(Identifier.user == user).order_by(Identifier.id))
