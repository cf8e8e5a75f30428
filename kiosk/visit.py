"""A patron's visit at the kiosk, shared by the routes (kiosk/routes.py) and the sign-in without a card
(kiosk/signin.py): the session's start and end, rendering a screen (the partial for an htmx swap, or the
whole page), the account and renewal screens, and receipts. The routes stay thin.

A patron's session moves identified -> pin_ok (``session["stage"]``); nothing of the account is shown
before the PIN is right when the patron's group requires one. ``session["visit"]`` keeps the patron's visit at
the central store (opened at identification, verified by the PIN or password there; none when the patron was
identified offline): renewals and letters carry it, as the central store asks (docs/sync.md).
"""
from __future__ import annotations

import datetime as dt

from flask import current_app, render_template, session
from flask_babel import gettext as _
from htmx_flask import request as htmx_request

from kiosk import (
    receipts,
    services,
    sessions,  # kept on the server; the cookie holds a random id (kiosk/sessions.py)
    trusted_clock,  # the central store's time, for dates and locks (kiosk/trusted_clock.py)
    usage,  # daily usage counters, nothing personal (kiosk/usage.py)
)
from kiosk.central_client import CentralUnavailable
from kiosk.screens import account_screen, renewal_message
from library_kiosk.domain import clock
from library_kiosk.domain.barcodes import BarcodeError, validate_barcode

IDENTIFIED, PIN_OK = "identified", "pin_ok"


CALL_REASONS = ("help", "card", "pin", "renewal", "other")


def is_card_barcode(code: str) -> bool:
    """Whether a scanned or typed code follows the library's card barcode rules (``[readers.barcode]``)."""
    try:
        validate_barcode(code, current_app.config["CARD_BARCODES"])
    except BarcodeError:
        return False
    return True


def kiosk_config() -> dict:
    return current_app.config["KIOSK"]["kiosk"]


def today():
    return current_app.config["TODAY"]()


def render(partial: str, **context):
    """The partial alone for an htmx swap, or the whole page around it."""
    context.setdefault("personal", "patron" in session)
    context.setdefault("contrast", contrast_on())
    context.setdefault("contrast_default", kiosk_config().get("high_contrast_default", False))
    context.setdefault("timeout", kiosk_config()["idle_timeout_seconds"])
    context.setdefault("warning", kiosk_config()["idle_warning_seconds"])
    if htmx_request.htmx:
        return render_template("_frame.html", partial=partial, **context)
    return render_template("page.html", partial=partial, **context)


def message(title: str, text: str, status: int = 200, kind: str = "info", **context):
    return render("_message.html", title=title, text=text, kind=kind, **context), status


def end_visit(keep_language: bool = False) -> None:
    receipt_at_end()
    services.end_central_visit(session.get("patron", ""), session.get("visit", ""))
    lang = session.get("lang")
    session.clear()
    sessions.new_id(session)  # Done: the session is forgotten; a copy of the cookie finds nothing
    if keep_language and lang:
        session["lang"] = lang


PREFERENCES = ("lang", "lang_chosen", "contrast")  # chosen on screen; kept until the patron's session ends


def contrast_on() -> bool:
    """Whether this session shows the high-contrast theme (the patron's choice, else ``high_contrast_default``)."""
    return bool(session.get("contrast", kiosk_config().get("high_contrast_default", False)))


def preferences() -> dict:
    """What was chosen on screen (language, high contrast) before a card was tapped."""
    if "patron" in session:
        return {}
    keys = PREFERENCES if session.get("lang_chosen") else ("contrast",)
    return {key: session[key] for key in keys if key in session}


def current_patron(stage: str = PIN_OK):
    """The patron of this session at ``stage`` or beyond, or None."""
    primary_id = session.get("patron")
    if not primary_id or (stage == PIN_OK and session.get("stage") != PIN_OK):
        return None
    return services.get_patron(primary_id)


def moment() -> float:
    """Now on the product's clock, in seconds (``session["seen"]``: the idle timeout's reference)."""
    return clock.now_aware().timestamp()


def start_visit(account, chosen_language: str = "", contrast: bool | None = None, visit: str = "") -> None:
    """A new patron's session; ``visit``: their visit at the central store, if it opened one."""
    session.clear()
    sessions.new_id(session)  # a new patron, a new id: a cookie copied before the tap gets nothing
    if visit:
        session["visit"] = visit
    if contrast is not None:  # high contrast chosen before the tap stays on for this patron
        session["contrast"] = contrast
    session["patron"] = account.primary_id
    session["seen"] = moment()
    if chosen_language:  # chosen on screen before the tap: the patron's choice wins
        session["lang"], session["lang_chosen"] = chosen_language, True
    elif account.preferred_language in kiosk_config()["languages"]:
        session["lang"] = account.preferred_language
    session["stage"] = IDENTIFIED


def locked_message(until):
    remaining = until - trusted_clock.now()
    minutes = max(1, int(remaining.total_seconds() // 60) + 1)
    return message(_("This card is locked"),
                    _("The PIN was wrong too many times. Try again in %(minutes)s minutes, or ask at the desk.",
                      minutes=minutes), 423, "warning")


def fresh_start() -> tuple[str, dict]:
    """End any patron's session (a new identification always does), keeping what was chosen on screen
    (language, contrast) before it; returns (the language chosen, those preferences)."""
    chosen = session.get("lang", "") if session.get("lang_chosen") and "patron" not in session else ""
    kept = preferences()
    end_visit()
    session.update(kept)
    return chosen, kept


def renew_selected_offered() -> bool:
    """Renew selected is offered where renew-all is: the upstream renews, and renews more than one at a time."""
    found = services.capabilities()
    return found.get("renew", True) and found.get("renew_all", True)


def renew_and_show(account, loan_ids: list[int] | None):
    """Renew through ``services.renew`` (outbox, offline policy, upstream) and show one outcome per loan; nothing
    is renewed or promised on a cache that cannot record it (``services.StorageFault``: out of order)."""
    services.check_storage()
    try:
        outcomes = services.renew(account, loan_ids, session.get("visit", ""))
    except CentralUnavailable:
        return message(_("Renewals are not available just now"),
                        _("Nothing has changed on your account. Please try again in a few minutes, "
                          "or ask at the desk."), 503, "info", back="account")
    usage.renewals(outcomes)
    session["show_loans"] = True
    renewed = {row[0]: row for row in session.get("renewed", [])}  # every loan renewed (or not) this session
    renewed.update({o.loan_id: [o.loan_id, o.renewed, o.new_due_date.isoformat() if o.new_due_date else "",
                                o.reason, o.pending] for o in outcomes})
    session["renewed"] = list(renewed.values())
    waiting = dict(session.get("pending_renewals", {}))  # loan id -> the queued operation's key (renewal_news)
    for o in outcomes:
        if o.pending and o.key:
            waiting[str(o.loan_id)] = o.key
        else:
            waiting.pop(str(o.loan_id), None)
    session["pending_renewals"] = waiting
    if any(o.renewed for o in outcomes):
        session.pop("receipt_taken", None)  # a receipt taken before these renewals does not show them
    rows = [{"outcome": o, "message": renewal_message(o.reason, o.message, account, o.loan_id)} for o in outcomes]
    given, at_end = None, False
    when = receipt_when()
    if when == "always" and receipt_ways(account):  # the receipt goes at once, by [kiosk] receipts (email first)
        renewed_account = services.get_patron(account.primary_id) or account  # the new due dates
        given = give_receipt(renewed_account, "loans", receipt_ways(account)[0])
    elif when == "on_timeout" and "email" in receipt_ways(account) and any(o.renewed for o in outcomes):
        at_end = True  # the screen says a receipt is emailed when the session ends, unless one is taken
    return render("_renewals.html", rows=rows, receipts=receipt_choices(account), account=account,
                   given=given, at_end=at_end)


def receipt_when() -> str:
    return kiosk_config().get("receipt_when", "ask")


def receipt_ways(account) -> list[str]:
    """How a receipt can go to this patron here: ``[kiosk] receipts``, an email address, a printer."""
    mode = kiosk_config()["receipts"]
    email = bool(account.preferred_email) and mode in ("ask", "email")
    printer = services.printer_available() and mode in ("ask", "print")
    return [c for c, ok in (("email", email), ("print", printer)) if ok]


def receipt_choices(account) -> list[str]:
    """The receipt choices on the renewals screen (``receipt_when`` ask or on_timeout)."""
    return receipt_ways(account) if receipt_when() in ("ask", "on_timeout") else []


def receipt_sections(account) -> dict[str, list[str]]:
    """The account screen's receipt choices: section -> ways, only for sections with something in them."""
    ways = receipt_ways(account)
    if not ways:
        return {}
    shown = kiosk_config()["show_loans_on_open"] or session.get("show_loans", False)
    has = {"loans": bool(account.loans) and shown, "requests": bool(account.requests),
           "fees": bool(account.active_fees())}
    return {what: ways for what in receipts.SECTIONS if has[what]}


def give_receipt(account, what: str, how: str) -> tuple[bool, str]:
    """Print or email the receipt of one section; (given, what to tell the patron)."""
    if how == "print":
        if what == "borrowed":  # the borrow receipt: this visit's items (kiosk/circulation.py, Finish)
            from kiosk import tray

            title, lines = receipts.borrowed_lines(tray.borrowed())
        else:
            title, lines = receipts.section_lines(what, account, session.get("renewed", []))
        ok = services.print_receipt(title, account, lines)
        usage.count(receipts.PRINTED[what], ok)
        if ok and what in ("loans", "borrowed"):
            session["receipt_taken"] = True
        return ok, _("Your receipt is printing.") if ok else _("The receipt printer is not working. Please ask at "
                                                                "the desk.")
    context = {"renewals": session.get("renewed", [])} if what in ("loans", "borrowed") else None
    return emailed(receipts.LETTERS[what], account, context)


def receipt_at_end() -> None:
    """``receipt_when = "on_timeout"``: a session ending (Done, the idle timeout, a new card) that renewed or
    borrowed something and took no receipt since gets the loans receipt by email now (its letter lists the items
    borrowed today first). Never stops a session from ending."""
    try:
        renewed = any(row[1] for row in session.get("renewed", []))
        if (receipt_when() != "on_timeout" or session.get("stage") != PIN_OK or session.get("receipt_taken")
                or not (renewed or session.get("lent", 0) > 0)):
            return
        account = services.get_patron(session.get("patron", ""))
        if account is None or "email" not in receipt_ways(account):
            return
        session["receipt_taken"] = True  # once, whatever happens next
        try:
            outcome = services.email_letter(account.primary_id, receipts.LETTERS["loans"],
                                            {"renewals": session.get("renewed", [])}, session.get("visit", ""))
        except CentralUnavailable:  # offline: the outbox sends it when the central store is back
            services.queue_letter(account.primary_id, receipts.LETTERS["loans"], session.get("visit", ""))
            return
        usage.emailed(receipts.LETTERS["loans"], outcome.sent)
        usage.count("receipts_at_end", outcome.sent)
        if not outcome.sent:
            current_app.logger.warning("receipt not emailed at the end of a session: %s", outcome.error)
    except Exception as exc:  # (the central store down, anything: the session ends all the same)
        current_app.logger.warning("receipt not emailed at the end of a session: %s", exc)


def emailed(letter_type: str, account, context=None) -> tuple[bool, str]:
    """Have the central store email a letter; (sent, what to tell the patron)."""
    if not account.preferred_email:
        return False, _("We have no email address for you. Please ask at the desk.")
    try:
        outcome = services.email_letter(account.primary_id, letter_type, context, session.get("visit", ""))
    except CentralUnavailable:
        return False, _("Email is not available just now. Please try again later.")
    usage.emailed(letter_type, outcome.sent)
    if outcome.sent and letter_type == receipts.LETTERS["loans"]:
        session["receipt_taken"] = True
    return outcome.sent, (_("Sent to your email address.") if outcome.sent
                          else _("The email could not be sent. Please ask at the desk."))


def email_letter(letter_type: str, account, context=None):
    ok, text = emailed(letter_type, account, context)
    return render_template("_notice.html", ok=ok, text=text)


def _as_of() -> str:
    """When the account shown was last heard of from the central store, in local time ("" when it was read now)."""
    if "as_of" not in session:
        return ""
    when = session["as_of"]
    if not when:
        return _("an earlier visit")
    moment = dt.datetime.fromisoformat(when.rstrip("Z")).replace(tzinfo=dt.UTC).astimezone()
    from kiosk.filters import long_date

    if moment.date() == trusted_clock.today():
        return f"{moment:%H:%M}"
    return f"{moment:%H:%M}, {long_date(moment.date())}"


SECTIONS = ("loans", "requests", "fees", "notes")  # the account's tabs (_account_sections.html; notes when any)


def account_context(account) -> dict:
    """What the account screen and its sections show (``_account.html``, ``_account_sections.html``)."""
    config = kiosk_config()
    screen = account_screen(account, today(), config["expiry_warning_days"], config["referrals"])
    show_loans = config["show_loans_on_open"] or session.get("show_loans", False)
    section = session.get("section", "loans")
    return dict(screen=screen, today=today(), show_loans=show_loans, as_of=_as_of(),
                section=section if section in SECTIONS and (section != "notes" or account.notes) else "loans",
                renew_all=services.capabilities().get("renew_all", True),
                renew_selected=renew_selected_offered(), receipt_sections=receipt_sections(account))


def renewal_news(account) -> list[dict]:
    """Renewals this session showed as pending whose outcome the central store has given since (the web app's
    push or the sync worker's): each as {"title", "outcome", "message"}, the session's record of it (the loans
    receipt) made true, and no longer pending. Still waiting: nothing (the screens said pending, and it is)."""
    waiting = session.get("pending_renewals") or {}
    if not waiting:
        return []
    known = services.renewal_updates([(int(loan_id), key) for loan_id, key in waiting.items()])
    if not known:
        return []
    titles = {loan.loan_id: loan.title for loan in account.loans}
    rows = {row[0]: row for row in session.get("renewed", [])}
    news = []
    for loan_id, outcome in known.items():
        rows[loan_id] = [loan_id, outcome.renewed, outcome.new_due_date.isoformat() if outcome.new_due_date else "",
                         outcome.reason, False]
        news.append({"title": titles.get(loan_id, ""), "outcome": outcome,
                     "message": renewal_message(outcome.reason, outcome.message, account, loan_id)})
    session["renewed"] = list(rows.values())
    session["pending_renewals"] = {k: v for k, v in waiting.items() if int(k) not in known}
    return news


def show_account(account):
    services.check_storage()  # (out of order when the cache cannot record: kiosk/routes.py)
    context = account_context(account)
    news = renewal_news(account)
    usage.account_shown(context["screen"])
    if news:  # the account, with what became of the renewals shown pending
        return render("_renewal_news.html", news=news, **context)
    return render("_account.html", **context)
