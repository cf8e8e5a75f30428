"""Signing in without a card: a user name and a password typed on the on-screen keyboard.

For a patron who forgot their card. The user name is the patron's primary id or any of
their active identifiers (barcode, card number, ...: what a tap or a scan finds in the
cache). The password is checked by the central store (``services.sign_in``), never
here, never logged, never in a URL and never sent back to the screen. A wrong password
counts on the same counter as a wrong PIN (the same lock, the same report to staff); a
user name that is nobody's gets the same answer; every failure counts towards this
kiosk's sign-in throttle. A right password starts the same session as card + PIN, at
the account (``stage = pin_ok``). Offered when ``[kiosk] password_sign_in`` is true.
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, request, session
from flask_babel import gettext as _

from kiosk import services, trusted_clock
from kiosk.visit import PIN_OK, fresh_start, message, render, show_account, start_visit

bp = Blueprint("signin", __name__)


def offered() -> bool:
    return bool(current_app.config["KIOSK"]["kiosk"].get("password_sign_in", True))


def _not_offered():
    return message(_("Sign in with your card"),
                    _("Signing in without a card is not offered at this kiosk. Tap your card or scan your barcode, "
                      "or ask at the desk."), 404, "warning")


def _screen(error: str = "", user_name: str = "", status: int = 200):
    # personal: the idle countdown runs and "Done" is shown, so typed fields never wait for the next patron
    session["screen"] = "sign-in"  # a language switch comes back here (routes.current_screen)
    return render("_signin.html", personal=True, error=error, user_name=user_name), status


def _wait_message(until: dt.datetime) -> str:
    now = trusted_clock.now()
    seconds = max(1, int((until - now).total_seconds() + 0.999))
    return _("Too many unsuccessful sign-ins at this kiosk. Please wait %(seconds)s seconds and try again.",
             seconds=seconds)


def _locked(until: dt.datetime):
    remaining = until - trusted_clock.now()
    minutes = max(1, int(remaining.total_seconds() // 60) + 1)
    return message(_("This account is locked"),
                    _("The PIN or password was wrong too many times. Try again in %(minutes)s minutes, or ask at "
                      "the desk.", minutes=minutes), 423, "warning")


@bp.get("/sign-in")
def sign_in_screen():
    if not offered():
        return _not_offered()
    fresh_start()
    return _screen()


@bp.post("/sign-in")
def sign_in():
    if not offered():
        return _not_offered()
    chosen, preferences = fresh_start()
    user_name = request.form.get("user_name", "").strip()[:100]
    password = request.form.get("password", "")
    if not user_name or not password:
        return _screen(_("Type your user name and your password."), user_name, 400)
    result = services.sign_in(user_name, password)
    if result.account is not None:
        start_visit(result.account, chosen, preferences.get("contrast"), result.visit)
        session["stage"] = PIN_OK
        return show_account(result.account)
    if result.locked_until:
        return _locked(result.locked_until)
    if result.message:  # could not be checked (central store or library system unreachable): nothing counted
        return _screen(_(result.message), user_name, 503)
    if result.paused_until:
        return _screen(_wait_message(result.paused_until), "", 429)
    return _screen(_("That user name or password is not right."), user_name, 401)
