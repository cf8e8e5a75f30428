"""Kiosk routes: one view, two outputs (the full page, or the partial for htmx)."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from htmx_flask import request as htmx_request

from kiosk.events import read_tap_token
from kiosk.screens import account_screen

bp = Blueprint("kiosk", __name__)


def _cache():
    return current_app.extensions["patron_cache"]


def _render(partial: str, **context):
    """The partial alone for an htmx swap, or the whole page around it."""
    if htmx_request.htmx:
        return render_template(partial, **context)
    return render_template("page.html", partial=partial, **context)


def _message(title: str, text: str, status: int = 200, kind: str = "info"):
    return _render("_message.html", title=title, text=text, kind=kind), status


@bp.get("/")
def attract():
    session.clear()
    return _render("_attract.html")


@bp.post("/identify")
def identify():
    session.clear()  # a new identification always ends the previous patron's session
    identifier = request.form.get("identifier", "").strip()
    if "tap" in request.form:
        identifier = read_tap_token(current_app, request.form["tap"]) or ""
    if not identifier:
        return _message("Nothing was scanned", "Tap your card on the reader or scan your barcode.", 400, "warning")
    account = _cache().find(identifier)
    if account is None:
        return _message(
            "This card is not registered",
            "We could not find this card or barcode. Please ask at the desk.",
            404,
            "warning",
        )
    session["patron"] = account.primary_id
    return _show_account(account)


@bp.get("/account")
def account():
    primary_id = session.get("patron")
    account = _cache().get(primary_id) if primary_id else None
    if account is None:
        return redirect(url_for("kiosk.attract"))
    return _show_account(account)


@bp.post("/done")
def done():
    session.clear()
    return _render("_attract.html", goodbye=True)


def _show_account(account):
    config = current_app.config["KIOSK"]["kiosk"]
    screen = account_screen(account, current_app.config["TODAY"](), config["expiry_warning_days"])
    return _render("_account.html", screen=screen, today=current_app.config["TODAY"]())
