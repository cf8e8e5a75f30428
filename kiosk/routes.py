"""Kiosk routes: one view, two outputs (the full page, or the partial for htmx).

A patron's session moves identified -> pin_ok (``session["stage"]``); nothing of the
account is shown before the PIN is right when the patron's group requires one. The
PIN travels in POST bodies only. Every session ends at "Done", at the idle timeout
(the page's countdown, and here too for a page that stopped counting), or when a
new card is tapped. Sessions are kept on the server; the cookie carries a random
id only, replaced at each start and end (kiosk/sessions.py).
"""
from __future__ import annotations

import re
import uuid

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from htmx_flask import request as htmx_request

from kiosk import (
    receipts,
    services,
    sessions,
    trusted_clock,  # the central store's time, for locks and pauses (kiosk/trusted_clock.py)
    usage,  # daily usage counters, nothing personal (kiosk/usage.py)
)
from kiosk.events import read_tap
from kiosk.visit import (
    CALL_REASONS,
    IDENTIFIED,
    PIN_OK,
    SECTIONS,
    account_context,
    contrast_on,
    current_patron,
    email_letter,
    end_visit,
    fresh_start,
    give_receipt,
    is_card_barcode,
    kiosk_config,
    locked_message,
    message,
    moment,
    preferences,
    receipt_at_end,
    receipt_sections,
    render,
    renew_and_show,
    renew_selected_offered,
    show_account,
    start_visit,
)
from library_kiosk.domain.membership import PIN_SHORTEST

bp = Blueprint("kiosk", __name__)
bp.record_once(lambda state: receipts.check_settings(state.app.config["KIOSK"]["kiosk"]))  # refused at start
bp.record_once(lambda state: sessions.init_app(state.app))  # the cookie carries a session id, nothing else


@bp.before_app_request
def _expire_idle_session():
    """End a session the page stopped counting for (a closed tab, a crashed browser)."""
    if request.endpoint in ("static", "events.events") or "patron" not in session:
        return
    now = moment()
    if now - session.get("seen", now) > sessions.idle_limit_seconds(kiosk_config()):
        usage.count("ended_timeout")
        receipt_at_end()
        lang = session.get("lang")
        session.clear()
        sessions.new_id(session)  # forgotten on the server: a copy of this cookie opens nothing
        if lang:
            session["lang"] = lang
    else:
        session["seen"] = now


@bp.app_errorhandler(500)
def _out_of_order(error):
    """Anything unexpected (a bug): a plain screen with the desk as the way forward, never the framework's error
    page, and nothing personal kept (the session ends; the page's idle timer runs). A storage fault of the cache
    met on the way (full, read-only, missing, damaged): the out-of-order screen."""
    original = getattr(error, "original_exception", None)
    if original is not None and services.storage_fault(original):
        return out_of_order()
    session.clear()
    sessions.new_id(session)
    return message(_("This kiosk cannot do that just now"),
                    _("Please ask at the library desk: staff can see your account and help you."), 500, "warning")


@bp.app_errorhandler(services.StorageFault)
def _storage_fault(_error):
    return out_of_order()


def out_of_order():
    """This kiosk cannot record what it would promise (its cache is full, read-only, missing or damaged): it says
    so plainly, sends the patron to the desk, and calls staff through the central store where it can. The
    session ends (nothing personal kept); the screen has Done and the idle timeout, as a patron's screen has."""
    session.clear()
    sessions.new_id(session)
    try:
        services.call_staff_out_of_order()
    except Exception as exc:  # (the screen comes whatever happens)
        current_app.logger.warning("staff not called about the kiosk being out of order: %s", exc)
    return message(_("This kiosk is out of order"),
                   _("Please go to the library desk: staff can see your account and help you there."), 503,
                   "warning", personal=True)


def no_keys_yet(_error):
    """A card cannot be looked up before this kiosk has its keys from the central store (kiosk/device_keys.py):
    say so plainly; nothing was counted and the patron can try again in a moment."""
    end_visit()
    return message(_("This kiosk is still starting"),
                   _("It cannot read cards until it has reached the library's server. Please try again in a "
                     "minute, or ask at the desk."), 503, "warning")


@bp.get("/")
def attract():
    """The attract screen. A patron's session here ends (and what they chose with it); with nobody identified,
    the language and contrast chosen on screen stay (help's Back comes here) until the page's idle timer asks
    for ``?reset=1`` (kiosk.js), so the next person starts with the defaults."""
    kept = {} if request.args.get("reset") else preferences()
    end_visit()
    session.update(kept)
    return render("_attract.html", personal=False)


@bp.post("/identify")
def identify():
    tapped = read_tap(current_app, request.form["tap"]) if "tap" in request.form else None
    if tapped and tapped[1] == "barcode":
        from kiosk import circulation

        if circulation.at_tray():  # the reader service's scanner on the borrow tray or the return screen: an item
            return circulation.item_scanned(tapped[0])  # (a card there is tapped, or Done ends the screen first)
    chosen, preferences = fresh_start()
    identifier = request.form.get("identifier", "").strip()
    if "tap" in request.form:
        identifier = tapped[0] if tapped else ""
    if not identifier:
        return message(_("Nothing was scanned"), _("Tap your card on the reader or scan your barcode."), 400,
                        "warning")
    if "tap" not in request.form and not is_card_barcode(identifier):  # a book's barcode, say: no lookup
        usage.count("unknown_cards")
        return message(_("This is not a library card"),
                       _("Scan the barcode on your library card, or tap the card on the reader."), 400, "warning")
    services.check_storage()  # nothing is read, kept or counted on a cache that cannot record it: out of order
    account = services.find_patron(identifier)
    unchecked = g.get("lookup") == "unchecked"  # the library system behind the central store could not be asked
    if account is None and unchecked:
        return message(_("This card cannot be checked just now"),
                       _("The library system cannot be reached, and this kiosk does not know this card yet. "
                         "Please try again in a few minutes, or ask at the desk."), 503, "warning")
    if account is None:
        usage.count("unknown_cards")
        return message(_("This card is not registered"),
                        _("We could not find this card or barcode. Please ask at the desk."), 404, "warning")
    until = services.pin_locked_until(account.primary_id)
    if until:
        usage.count("locked_card_refused")
        return locked_message(until)
    start_visit(account, chosen, preferences.get("contrast"), g.get("visit") or "")  # the central store's visit
    if g.get("lookup") in ("stale", "unchecked"):  # not read from the library system now: say as of when
        session["as_of"] = g.get("as_of") or ""
    usage.session_started("tap" if "tap" in request.form else "barcode")
    if account.policy.pin_required:
        return render("_pin.html", account=account, error="", attempts_left=None)
    session["stage"] = PIN_OK
    return show_account(account)


@bp.post("/pin")
def pin():
    account = current_patron(IDENTIFIED)
    if account is None:
        return render("_attract.html", personal=False)
    if session.get("stage") == PIN_OK:
        return show_account(account)
    typed = request.form.get("pin", "").strip()
    if len(typed) < PIN_SHORTEST:  # OK with nothing or too little typed: a slip of the finger, not a guess
        return render("_pin.html", account=account, error=_("Type your PIN on the keypad, then press OK."),
                       attempts_left=None), 400
    services.check_storage()  # a wrong PIN is counted only where the account could be shown: never half
    result = services.check_pin(account, request.form.get("pin", ""), session.get("visit", ""))
    if result.ok:
        session["stage"] = PIN_OK
        if result.visit:  # checked by the central store: the visit it verified
            session["visit"] = result.visit
        return show_account(account)
    if result.locked_until:
        usage.count("pins_wrong")
        usage.count("cards_locked")
        chosen_contrast = session.get("contrast")
        end_visit()
        if chosen_contrast is not None:  # the patron is still reading this message; "Back" then resets it
            session["contrast"] = chosen_contrast
        return locked_message(result.locked_until)
    if result.paused_until:  # too many wrong PINs at this kiosk, on any cards: PIN entry waits a little
        if result.attempts_left is not None:  # this PIN was checked, and wrong
            usage.count("pins_wrong")
        seconds = max(1, int((result.paused_until - trusted_clock.now()).total_seconds()) + 1)
        return render("_pin.html", account=account, attempts_left=None, error=_(
            "Too many wrong PINs have been typed at this kiosk. Please wait %(seconds)s seconds and try again.",
            seconds=seconds)), 429
    if result.message:  # the PIN could not be checked (library system unreachable): nothing counted
        return render("_pin.html", account=account, error=_(result.message), attempts_left=None), 503
    usage.count("pins_wrong")
    return render("_pin.html", account=account, error=_("That PIN is not right."),
                   attempts_left=result.attempts_left), 401


@bp.get("/account")
def account():
    account = current_patron()
    if account is None:
        return redirect(url_for("kiosk.attract"))
    return show_account(account)


@bp.get("/account/section/<section>")
def account_section(section):
    """A tab of the account (loans, requests, fines and fees): only the sections are swapped, and the tab chosen
    is kept for the session (the account comes back at it after renewals, help or a language switch)."""
    account = current_patron()
    if account is None:
        return render("_attract.html", personal=False)
    if section not in SECTIONS:
        return message(_("Nothing to show"), _("This part of your account is not shown here."), 404, "warning",
                       back="account")
    session["section"] = section
    if not htmx_request.htmx:
        return show_account(account)
    return render_template("_account_sections.html", **account_context(account))


@bp.post("/account/loans")
def show_loans():
    account = current_patron()
    if account is None:
        return render("_attract.html", personal=False)
    session["show_loans"] = True
    return show_account(account)


@bp.post("/renew")
def renew():
    account = current_patron()
    if account is None:
        return render("_attract.html", personal=False)
    loan_id = request.form.get("loan_id", "")
    if loan_id and not loan_id.isdigit():
        return message(_("Nothing to renew"), _("Choose a loan to renew."), 400, "warning", back="account")
    if not loan_id and not services.capabilities().get("renew_all", True):
        return message(_("Nothing to renew"), _("Renew your loans one at a time."), 400, "warning", back="account")
    return renew_and_show(account, [int(loan_id)] if loan_id else None)


@bp.post("/renew-selected")
def renew_selected():
    """Renew exactly the loans ticked on the loans table (``loan_id``, repeated), each with its own outcome."""
    account = current_patron()
    if account is None:
        return render("_attract.html", personal=False)
    if not renew_selected_offered():
        return message(_("Nothing to renew"), _("Renew your loans one at a time."), 400, "warning", back="account")
    chosen = [value.strip() for value in request.form.getlist("loan_id") if value.strip()]
    if not chosen:
        return message(_("Nothing to renew"), _("Tick the loans you want to renew, then press Renew selected."),
                        400, "warning", back="account")
    on_account = {loan.loan_id for loan in account.loans}
    if not all(value.isdigit() and int(value) in on_account for value in chosen):
        return message(_("Nothing to renew"), _("This loan was not found on your account.") + " "
                        + _("Nothing has been renewed."), 400, "warning", back="account")
    loan_ids = list(dict.fromkeys(int(value) for value in chosen))  # each loan once, in the order ticked
    return renew_and_show(account, loan_ids)


@bp.post("/receipt")
def receipt():
    """A receipt for one section (``what``: loans, the default; requests; fees), by ``how`` (email or print)."""
    account = current_patron()
    if account is None:
        return render("_attract.html", personal=False)
    how, what = request.form.get("how", ""), request.form.get("what", "loans")
    if how not in receipt_sections(account).get(what, []):
        return message(_("No receipt"), _("This receipt cannot be given here."), 400, "warning", back="account")
    ok, text = give_receipt(account, what, how)
    return render_template("_notice.html", ok=ok, text=text)


@bp.post("/requests-report")
def requests_report():
    account = current_patron()
    if account is None:
        return render("_attract.html", personal=False)
    return email_letter("FulRequestsReportLetter", account)


@bp.post("/still-here")
def still_here():
    return ("", 204)


@bp.post("/done")
def done():
    if "patron" in session:
        usage.count("ended_timeout" if request.form.get("ended") == "timeout" else "ended_done")
    end_visit()
    return render("_attract.html", goodbye=True, personal=False)


@bp.get("/help")
def help_screen():
    # call_key: this screen's call button's own key (one call however often it is posted: services.call_staff)
    return render("_help.html", help=kiosk_config()["help"], called=False, call_key=uuid.uuid4().hex,
                  **_help_back())


def _help_back() -> dict:
    """Help goes back to the borrow tray or the return screen where it was opened there."""
    from kiosk import circulation

    back = circulation.tray_back_url()
    return {"back_url": back, "personal": True} if back else {}


@bp.post("/call-staff")
def call_staff():
    reason = request.form.get("reason", "help")
    reason = reason if reason in CALL_REASONS else "help"
    key = request.form.get("tap", "")
    key = key if re.fullmatch(r"[0-9a-f]{32}", key) else ""  # a key not made by help_screen: the call has its own
    state = services.call_staff(reason, session.get("patron", "") if session.get("stage") == PIN_OK else "", key)
    usage.count("staff_calls")
    return render("_help.html", help=kiosk_config()["help"], called=True, call_ok=state == "sent", call_state=state,
                  **_help_back())


@bp.post("/contrast")
def contrast():
    """Turn the high-contrast theme on or off for this session; only the button is swapped (the theme
    follows its ``aria-pressed``), so the patron stays on the screen they were on."""
    session["contrast"] = not contrast_on()
    if not htmx_request.htmx:  # a plain form post: the whole screen again
        return current_screen()
    return render_template("_contrast.html", contrast=session["contrast"],
                           contrast_default=kiosk_config().get("high_contrast_default", False))


@bp.post("/language")
def language():
    lang = request.form.get("lang", "")
    if lang in kiosk_config()["languages"]:
        session["lang"], session["lang_chosen"] = lang, True
        usage.count(usage.language_counter(lang))
    if request.form.get("at") == "help":  # switched on the help screen (_frame.html): stay there
        return help_screen()
    return current_screen()


def current_screen():
    """The screen this session is at: the borrow tray or the return screen, the account, the PIN keypad, or the
    attract screen."""
    from kiosk import circulation

    tray_screen = circulation.current_circulation_screen()
    if tray_screen is not None:
        return tray_screen
    if "patron" in session and session.get("stage") == PIN_OK:
        account = current_patron()
        if account is not None:
            return show_account(account)
    if "patron" in session:  # at the PIN screen: stay there, in the new language
        account = current_patron(IDENTIFIED)
        if account is not None:
            return render("_pin.html", account=account, error="", attempts_left=None)
    if session.get("screen") == "sign-in":  # signing in without a card: stay there, in the new language
        from kiosk import signin

        return signin.sign_in_screen()
    return render("_attract.html", personal=False, keep_language=True)


