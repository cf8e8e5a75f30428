"""Kiosk routes: one view, two outputs (the full page, or the partial for htmx).

A patron's session moves identified -> pin_ok (``session["stage"]``); nothing of the
account is shown before the PIN is right when the patron's group requires one. The
PIN travels in POST bodies only. Every session ends at "Done", at the idle timeout
(the page's countdown, and here too for a page that stopped counting), or when a
new card is tapped.
"""
from __future__ import annotations

import time

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from htmx_flask import request as htmx_request

from domain import clock
from kiosk import receipts, services
from kiosk import usage  # daily usage counters, nothing personal (kiosk/usage.py)
from kiosk.central_client import CentralUnavailable
from kiosk.events import read_tap_token
from kiosk.screens import account_screen, renewal_message

bp = Blueprint("kiosk", __name__)
bp.record_once(lambda state: receipts.check_settings(state.app.config["KIOSK"]["kiosk"]))  # refused at start
IDENTIFIED, PIN_OK = "identified", "pin_ok"
CALL_REASONS = ("help", "card", "pin", "renewal", "other")


def _config() -> dict:
    return current_app.config["KIOSK"]["kiosk"]


def _today():
    return current_app.config["TODAY"]()


@bp.before_app_request
def _expire_idle_session():
    """End a session the page stopped counting for (a closed tab, a crashed browser)."""
    if request.endpoint in ("static", "events.events") or "patron" not in session:
        return
    now = time.time()
    limit = _config()["idle_timeout_seconds"] + 15
    if now - session.get("seen", now) > limit:
        usage.count("ended_timeout")
        _receipt_at_end()
        lang = session.get("lang")
        session.clear()
        if lang:
            session["lang"] = lang
    else:
        session["seen"] = now


def _render(partial: str, **context):
    """The partial alone for an htmx swap, or the whole page around it."""
    context.setdefault("personal", "patron" in session)
    context.setdefault("contrast", _contrast())
    context.setdefault("contrast_default", _config().get("high_contrast_default", False))
    context.setdefault("timeout", _config()["idle_timeout_seconds"])
    context.setdefault("warning", _config()["idle_warning_seconds"])
    if htmx_request.htmx:
        return render_template("_frame.html", partial=partial, **context)
    return render_template("page.html", partial=partial, **context)


def _message(title: str, text: str, status: int = 200, kind: str = "info", **context):
    return _render("_message.html", title=title, text=text, kind=kind, **context), status


@bp.app_errorhandler(500)
def _out_of_order(_error):
    """Anything unexpected (a full or read-only cache, a bug): a plain screen with the desk as the way forward,
    never the framework's error page, and nothing personal kept (the session ends; the page's idle timer runs)."""
    session.clear()
    return _message(_("This kiosk cannot do that just now"),
                    _("Please ask at the library desk: staff can see your account and help you."), 500, "warning")


def _end_session(keep_language: bool = False) -> None:
    _receipt_at_end()
    lang = session.get("lang")
    session.clear()
    if keep_language and lang:
        session["lang"] = lang


PREFERENCES = ("lang", "lang_chosen", "contrast")  # chosen on screen; kept until the patron's session ends


def _contrast() -> bool:
    """Whether this session shows the high-contrast theme (the patron's choice, else ``high_contrast_default``)."""
    return bool(session.get("contrast", _config().get("high_contrast_default", False)))


def _preferences() -> dict:
    """What was chosen on screen (language, high contrast) before a card was tapped."""
    if "patron" in session:
        return {}
    keys = PREFERENCES if session.get("lang_chosen") else ("contrast",)
    return {key: session[key] for key in keys if key in session}


def _patron(stage: str = PIN_OK):
    """The patron of this session at ``stage`` or beyond, or None."""
    primary_id = session.get("patron")
    if not primary_id or (stage == PIN_OK and session.get("stage") != PIN_OK):
        return None
    return services.get_patron(primary_id)


def _start(account, chosen_language: str = "", contrast: bool | None = None) -> None:
    session.clear()
    if contrast is not None:  # high contrast chosen before the tap stays on for this patron
        session["contrast"] = contrast
    session["patron"] = account.primary_id
    session["seen"] = time.time()
    if chosen_language:  # chosen on screen before the tap: the patron's choice wins
        session["lang"], session["lang_chosen"] = chosen_language, True
    elif account.preferred_language in _config()["languages"]:
        session["lang"] = account.preferred_language
    session["stage"] = IDENTIFIED


def _locked_message(until):
    import datetime as dt

    remaining = until - clock.now()
    minutes = max(1, int(remaining.total_seconds() // 60) + 1)
    return _message(_("This card is locked"),
                    _("The PIN was wrong too many times. Try again in %(minutes)s minutes, or ask at the desk.",
                      minutes=minutes), 423, "warning")


@bp.get("/")
def attract():
    _end_session()
    return _render("_attract.html", personal=False)


def fresh_start() -> tuple[str, dict]:
    """End any patron's session (a new identification always does), keeping what was chosen on screen
    (language, contrast) before it; returns (the language chosen, those preferences)."""
    chosen = session.get("lang", "") if session.get("lang_chosen") and "patron" not in session else ""
    preferences = _preferences()
    _end_session()
    session.update(preferences)
    return chosen, preferences


@bp.post("/identify")
def identify():
    chosen, preferences = fresh_start()
    identifier = request.form.get("identifier", "").strip()
    if "tap" in request.form:
        identifier = read_tap_token(current_app, request.form["tap"]) or ""
    if not identifier:
        return _message(_("Nothing was scanned"), _("Tap your card on the reader or scan your barcode."), 400,
                        "warning")
    account = services.find_patron(identifier)
    if account is None:
        usage.count("unknown_cards")
        return _message(_("This card is not registered"),
                        _("We could not find this card or barcode. Please ask at the desk."), 404, "warning")
    until = services.pin_locked_until(account.primary_id)
    if until:
        usage.count("locked_card_refused")
        return _locked_message(until)
    _start(account, chosen, preferences.get("contrast"))
    usage.session_started("tap" if "tap" in request.form else "barcode")
    if account.policy.pin_required:
        return _render("_pin.html", account=account, error="", attempts_left=None)
    session["stage"] = PIN_OK
    return _show_account(account)


@bp.post("/pin")
def pin():
    account = _patron(IDENTIFIED)
    if account is None:
        return _render("_attract.html", personal=False)
    if session.get("stage") == PIN_OK:
        return _show_account(account)
    if not request.form.get("pin", "").strip():  # OK with nothing typed: a slip of the finger, not a guess
        return _render("_pin.html", account=account, error=_("Type your PIN on the keypad, then press OK."),
                       attempts_left=None), 400
    result = services.check_pin(account, request.form.get("pin", ""))
    if result.ok:
        session["stage"] = PIN_OK
        return _show_account(account)
    if result.locked_until:
        usage.count("pins_wrong")
        usage.count("cards_locked")
        chosen_contrast = session.get("contrast")
        _end_session()
        if chosen_contrast is not None:  # the patron is still reading this message; "Back" then resets it
            session["contrast"] = chosen_contrast
        return _locked_message(result.locked_until)
    if result.message:  # the PIN could not be checked (library system unreachable): nothing counted
        return _render("_pin.html", account=account, error=_(result.message), attempts_left=None), 503
    usage.count("pins_wrong")
    return _render("_pin.html", account=account, error=_("That PIN is not right."),
                   attempts_left=result.attempts_left), 401


@bp.get("/account")
def account():
    account = _patron()
    if account is None:
        return redirect(url_for("kiosk.attract"))
    return _show_account(account)


@bp.post("/account/loans")
def show_loans():
    account = _patron()
    if account is None:
        return _render("_attract.html", personal=False)
    session["show_loans"] = True
    return _show_account(account)


@bp.post("/renew")
def renew():
    account = _patron()
    if account is None:
        return _render("_attract.html", personal=False)
    loan_id = request.form.get("loan_id", "")
    if loan_id and not loan_id.isdigit():
        return _message(_("Nothing to renew"), _("Choose a loan to renew."), 400, "warning", back="account")
    if not loan_id and not services.capabilities().get("renew_all", True):
        return _message(_("Nothing to renew"), _("Renew your loans one at a time."), 400, "warning", back="account")
    return _renew_and_show(account, [int(loan_id)] if loan_id else None)


def _renew_selected_offered() -> bool:
    """Renew selected is offered where renew-all is: the upstream renews, and renews more than one at a time."""
    found = services.capabilities()
    return found.get("renew", True) and found.get("renew_all", True)


@bp.post("/renew-selected")
def renew_selected():
    """Renew exactly the loans ticked on the loans table (``loan_id``, repeated), each with its own outcome."""
    account = _patron()
    if account is None:
        return _render("_attract.html", personal=False)
    if not _renew_selected_offered():
        return _message(_("Nothing to renew"), _("Renew your loans one at a time."), 400, "warning", back="account")
    chosen = [value.strip() for value in request.form.getlist("loan_id") if value.strip()]
    if not chosen:
        return _message(_("Nothing to renew"), _("Tick the loans you want to renew, then press Renew selected."),
                        400, "warning", back="account")
    on_account = {loan.loan_id for loan in account.loans}
    if not all(value.isdigit() and int(value) in on_account for value in chosen):
        return _message(_("Nothing to renew"), _("This loan was not found on your account.") + " "
                        + _("Nothing has been renewed."), 400, "warning", back="account")
    loan_ids = list(dict.fromkeys(int(value) for value in chosen))  # each loan once, in the order ticked
    return _renew_and_show(account, loan_ids)


def _renew_and_show(account, loan_ids: list[int] | None):
    """Renew through ``services.renew`` (outbox, offline policy, upstream) and show one outcome per loan."""
    try:
        outcomes = services.renew(account, loan_ids)
    except CentralUnavailable:
        return _message(_("Renewals are not available just now"),
                        _("Nothing has changed on your account. Please try again in a few minutes, "
                          "or ask at the desk."), 503, "info", back="account")
    usage.renewals(outcomes)
    session["show_loans"] = True
    renewed = {row[0]: row for row in session.get("renewed", [])}  # every loan renewed (or not) this session
    renewed.update({o.loan_id: [o.loan_id, o.renewed, o.new_due_date.isoformat() if o.new_due_date else "",
                                o.reason, o.pending] for o in outcomes})
    session["renewed"] = list(renewed.values())
    if any(o.renewed for o in outcomes):
        session.pop("receipt_taken", None)  # a receipt taken before these renewals does not show them
    rows = [{"outcome": o, "message": renewal_message(o.reason, o.message)} for o in outcomes]
    given, at_end = None, False
    when = _receipt_when()
    if when == "always" and _ways(account):  # the receipt goes at once, by [kiosk] receipts (email first)
        renewed_account = services.get_patron(account.primary_id) or account  # the new due dates
        given = _give_receipt(renewed_account, "loans", _ways(account)[0])
    elif when == "on_timeout" and "email" in _ways(account) and any(o.renewed for o in outcomes):
        at_end = True  # the screen says a receipt is emailed when the session ends, unless one is taken
    return _render("_renewals.html", rows=rows, receipts=_receipt_choices(account), account=account,
                   given=given, at_end=at_end)


def _receipt_when() -> str:
    return _config().get("receipt_when", "ask")


def _ways(account) -> list[str]:
    """How a receipt can go to this patron here: ``[kiosk] receipts``, an email address, a printer."""
    mode = _config()["receipts"]
    email = bool(account.preferred_email) and mode in ("ask", "email")
    printer = services.printer_available() and mode in ("ask", "print")
    return [c for c, ok in (("email", email), ("print", printer)) if ok]


def _receipt_choices(account) -> list[str]:
    """The receipt choices on the renewals screen (``receipt_when`` ask or on_timeout)."""
    return _ways(account) if _receipt_when() in ("ask", "on_timeout") else []


def _receipt_sections(account) -> dict[str, list[str]]:
    """The account screen's receipt choices: section -> ways, only for sections with something in them."""
    ways = _ways(account)
    if not ways:
        return {}
    shown = _config()["show_loans_on_open"] or session.get("show_loans", False)
    has = {"loans": bool(account.loans) and shown, "requests": bool(account.requests),
           "fees": bool(account.active_fees())}
    return {what: ways for what in receipts.SECTIONS if has[what]}


@bp.post("/receipt")
def receipt():
    """A receipt for one section (``what``: loans, the default; requests; fees), by ``how`` (email or print)."""
    account = _patron()
    if account is None:
        return _render("_attract.html", personal=False)
    how, what = request.form.get("how", ""), request.form.get("what", "loans")
    if how not in _receipt_sections(account).get(what, []):
        return _message(_("No receipt"), _("This receipt cannot be given here."), 400, "warning", back="account")
    ok, text = _give_receipt(account, what, how)
    return render_template("_notice.html", ok=ok, text=text)


def _give_receipt(account, what: str, how: str) -> tuple[bool, str]:
    """Print or email the receipt of one section; (given, what to tell the patron)."""
    if how == "print":
        title, lines = receipts.section_lines(what, account, session.get("renewed", []))
        ok = services.print_receipt(title, account, lines)
        usage.count(receipts.PRINTED[what], ok)
        if ok and what == "loans":
            session["receipt_taken"] = True
        return ok, _("Your receipt is printing.") if ok else _("The receipt printer is not working. Please ask at "
                                                                "the desk.")
    context = {"renewals": session.get("renewed", [])} if what == "loans" else None
    return _emailed(receipts.LETTERS[what], account, context)


def _receipt_at_end() -> None:
    """``receipt_when = "on_timeout"``: a session ending (Done, the idle timeout, a new card) that renewed
    something and took no receipt gets the loans receipt by email now. Never stops a session from ending."""
    try:
        if (_receipt_when() != "on_timeout" or session.get("stage") != PIN_OK or session.get("receipt_taken")
                or not any(row[1] for row in session.get("renewed", []))):
            return
        account = services.get_patron(session.get("patron", ""))
        if account is None or "email" not in _ways(account):
            return
        session["receipt_taken"] = True  # once, whatever happens next
        try:
            outcome = services.email_letter(account.primary_id, receipts.LETTERS["loans"],
                                            {"renewals": session.get("renewed", [])})
        except CentralUnavailable:  # offline: the outbox sends it when the central store is back
            services.queue_letter(account.primary_id, receipts.LETTERS["loans"])
            return
        usage.emailed(receipts.LETTERS["loans"], outcome.sent)
        usage.count("receipts_at_end", outcome.sent)
        if not outcome.sent:
            current_app.logger.warning("receipt not emailed at the end of a session: %s", outcome.error)
    except Exception as exc:  # noqa: BLE001  (the central store down, anything: the session ends all the same)
        current_app.logger.warning("receipt not emailed at the end of a session: %s", exc)


def _result(ok: bool, done: str, failed: str):
    return render_template("_notice.html", ok=ok, text=done if ok else failed)


def _emailed(letter_type: str, account, context=None) -> tuple[bool, str]:
    """Have the central store email a letter; (sent, what to tell the patron)."""
    if not account.preferred_email:
        return False, _("We have no email address for you. Please ask at the desk.")
    try:
        outcome = services.email_letter(account.primary_id, letter_type, context)
    except CentralUnavailable:
        return False, _("Email is not available just now. Please try again later.")
    usage.emailed(letter_type, outcome.sent)
    if outcome.sent and letter_type == receipts.LETTERS["loans"]:
        session["receipt_taken"] = True
    return outcome.sent, (_("Sent to your email address.") if outcome.sent
                          else _("The email could not be sent. Please ask at the desk."))


def _email(letter_type: str, account, context=None):
    ok, text = _emailed(letter_type, account, context)
    return render_template("_notice.html", ok=ok, text=text)


@bp.post("/requests-report")
def requests_report():
    account = _patron()
    if account is None:
        return _render("_attract.html", personal=False)
    return _email("FulRequestsReportLetter", account)


@bp.post("/still-here")
def still_here():
    return ("", 204)


@bp.post("/done")
def done():
    if "patron" in session:
        usage.count("ended_timeout" if request.form.get("ended") == "timeout" else "ended_done")
    _end_session()
    return _render("_attract.html", goodbye=True, personal=False)


@bp.get("/help")
def help_screen():
    return _render("_help.html", help=_config()["help"], called=False)


@bp.post("/call-staff")
def call_staff():
    reason = request.form.get("reason", "help")
    reason = reason if reason in CALL_REASONS else "help"
    ok = services.call_staff(reason, session.get("patron", "") if session.get("stage") == PIN_OK else "")
    usage.count("staff_calls")
    return _render("_help.html", help=_config()["help"], called=True, call_ok=ok)


@bp.post("/contrast")
def contrast():
    """Turn the high-contrast theme on or off for this session; only the button is swapped (the theme
    follows its ``aria-pressed``), so the patron stays on the screen they were on."""
    session["contrast"] = not _contrast()
    if not htmx_request.htmx:  # a plain form post: the whole screen again
        return _current_screen()
    return render_template("_contrast.html", contrast=session["contrast"],
                           contrast_default=_config().get("high_contrast_default", False))


@bp.post("/language")
def language():
    lang = request.form.get("lang", "")
    if lang in _config()["languages"]:
        session["lang"], session["lang_chosen"] = lang, True
        usage.count(usage.language_counter(lang))
    return _current_screen()


def _current_screen():
    """The screen this session is at: the account, the PIN keypad, or the attract screen."""
    if "patron" in session and session.get("stage") == PIN_OK:
        account = _patron()
        if account is not None:
            return _show_account(account)
    if "patron" in session:  # at the PIN screen: stay there, in the new language
        account = _patron(IDENTIFIED)
        if account is not None:
            return _render("_pin.html", account=account, error="", attempts_left=None)
    if session.get("screen") == "sign-in":  # signing in without a card: stay there, in the new language
        from kiosk import signin

        return signin.sign_in_screen()
    return _render("_attract.html", personal=False, keep_language=True)


def _show_account(account):
    config = _config()
    screen = account_screen(account, _today(), config["expiry_warning_days"], config["referrals"])
    show_loans = config["show_loans_on_open"] or session.get("show_loans", False)
    usage.account_shown(screen)
    return _render("_account.html", screen=screen, today=_today(), show_loans=show_loans,
                   renew_all=services.capabilities().get("renew_all", True),
                   renew_selected=_renew_selected_offered(), receipt_sections=_receipt_sections(account))
