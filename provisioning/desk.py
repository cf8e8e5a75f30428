"""The desk: fines and fees (add, pay, waive), loans (claimed returned, lost, found, renewed),
requests and the requests report, every letter the patron was sent, a PIN lock cleared, and a slip of what
was done (printed or emailed)."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from library_kiosk.central.store import accounts, desk, fees, letters, pin_checks
from library_kiosk.central.store.models import Fee, Loan
from library_kiosk.central.store.registration import Invalid
from provisioning import formats
from provisioning.patrons import patron_page
from provisioning.views import done, operator, or_404, render, requires, setting_amount, today, upstream_writer

bp = Blueprint("desk", __name__, url_prefix="/patrons/<primary_id>")


def _attempt(primary_id, tab, work, notice):
    try:
        result = work()
    except Invalid as exc:
        return patron_page(primary_id, 422, tab=tab, form=request.form, errors=exc.errors,
                           error=" ".join(exc.errors.values()))
    return done(url_for("patrons.patron", primary_id=primary_id, tab=tab),
                notice(result) if callable(notice) else notice)


@bp.post("/fees")
def add_fee(primary_id):
    user = or_404(accounts.get_user(primary_id))
    return _attempt(primary_id, "fees", lambda: fees.add_fee(user, request.form, operator(), writer=upstream_writer()),
                    "Fee added.")


@bp.post("/fees/<int:fee_id>/<any(pay, waive):kind>")
def settle(primary_id, fee_id, kind):
    user = or_404(accounts.get_user(primary_id))
    fee = or_404(Fee.get_or_none((Fee.id == fee_id) & (Fee.user == user)))
    kind = "PAYMENT" if kind == "pay" else "WAIVE"
    return _attempt(primary_id, "fees", lambda: fees.settle(fee, kind, request.form, operator()),
                    lambda t: f"{'Paid' if kind == 'PAYMENT' else 'Waived'} {formats.money(t.amount)}.")


@bp.post("/loans/<int:loan_id>/<action>")
def mark_loan(primary_id, loan_id, action):
    user = or_404(accounts.get_user(primary_id))
    loan = or_404(Loan.get_or_none((Loan.id == loan_id) & (Loan.user == user)))
    return _attempt(primary_id, "loans",
                    lambda: desk.mark(loan, action.upper(), operator(), setting_amount("lost_item_fee")),
                    lambda l: f"{l.title} is now {l.status.replace('_', ' ').lower()}.")


REPORTS = {"requests-report": ("FulRequestsReportLetter", "requests", "Requests report"),
           "loans-report": ("FulUserBorrowingActivityLetter", "loans", "Loans report")}


@bp.post("/letters/<any(\"requests-report\", \"loans-report\"):report>")
def send_report(primary_id, report):
    """The requests report (FulRequestsReportLetter) or the loans report (FulUserBorrowingActivityLetter)."""
    user = or_404(accounts.get_user(primary_id))
    letter_type, tab, title = REPORTS[report]
    channel = request.form.get("channel", "email")
    if channel not in ("email", "print"):
        return patron_page(primary_id, 422, tab=tab, error="Choose email or print.")
    letter = letters.send_letter(user, letter_type, current_app.config["KIOSK"], operator(), channel=channel,
                                 today=current_app.config["TODAY"]())
    if letter.status == "failed":
        return patron_page(primary_id, 502, tab=tab, error=letter.error)
    what = f"sent to {letter.recipient}" if channel == "email" else "ready to print (see the Letters tab)"
    return done(url_for("patrons.patron", primary_id=primary_id, tab=tab), f"{title} {what}.")


@bp.get("/letters/<int:letter_id>")
def letter(primary_id, letter_id):
    user = or_404(accounts.get_user(primary_id))
    found = or_404(letters.Letter.get_or_none((letters.Letter.id == letter_id) & (letters.Letter.user == user)))
    return render("letter.html", user=user, letter=found)


# --- closing the desk's loops (issue 16): a PIN lock cleared, renewals, a slip of what was done ---

@bp.app_context_processor
def _desk_loops():
    """For the patron page's partials (_lockout.html, _desk_renew.html, _slip_actions.html)."""
    return {"pin_lockouts": pin_checks.lockouts, "desk_done": desk_done}


def desk_done(user) -> dict:
    """What the desk has done for the patron since the slip was started, from the page's address after a desk
    action's redirect (``outcome=LOAN.ENTRY``: this action's renewals, ``slip=ENTRY``: the earlier entries, carried
    on by each desk form), or from the form itself when a refused post shows the page again (so a bad scan drops
    nothing): the audit entries (this patron's only), each renewal's beside its loan, and their ids for a slip."""
    pairs = {}
    for value in request.args.getlist("outcome"):
        loan_id, _dot, entry_id = value.partition(".")
        if loan_id.isdigit() and entry_id.isdigit():
            pairs[int(entry_id)] = int(loan_id)
    carried = request.form.getlist("slip") if request.method == "POST" else request.args.getlist("slip")
    ids = list(dict.fromkeys([*(int(v) for v in carried if v.isdigit()), *pairs]))  # the newest last
    entries = desk.slip_lines(user, ids[-SLIP_LIMIT:])
    return {"entries": entries, "by_loan": {pairs[e.id]: e for e in entries if e.id in pairs}}


SLIP_LIMIT = 200  # entries one slip (and a page's address) holds


def earlier_slip() -> list[int]:
    """The entries already on the slip, as a desk form posts them back (``slip``), oldest first; room is left for
    the entries the action adds."""
    return [int(value) for value in request.form.getlist("slip") if value.isdigit()][-(SLIP_LIMIT - 20):]


@bp.post("/unlock")
@requires("user_manager")
def unlock(primary_id):
    """Clear the patron's PIN lock: at once at the central store, at each kiosk after its next sync."""
    user = or_404(accounts.get_user(primary_id))
    entry = pin_checks.unlock(user.primary_id, operator())
    if entry is None:
        return patron_page(primary_id, 409, tab="general",
                           error="This patron's PIN is not locked at any kiosk: nothing was changed.")
    return done(url_for("patrons.patron", primary_id=primary_id, tab="general", slip=[*earlier_slip(), entry.id]),
                "PIN lock cleared. The patron can enter a PIN again at every kiosk after its next sync (seconds, "
                "for a kiosk that is online; a kiosk that is offline lets the patron in once it syncs again).")


def renewal_forward():
    """The library system's renewal decision when the central store sits in front of one (``[upstream] kind``
    alma or sip2), as the central API passes it for kiosks (``circulation.Forward``); None: the local rules."""
    extensions = current_app.extensions
    if "renewal_forward" not in extensions:
        config = current_app.config["KIOSK"]
        forward = None
        if (config.get("upstream") or {}).get("kind", "local") != "local":
            from library_kiosk.central import upstream
            from library_kiosk.central.upstream import cache

            backend = upstream.from_config(config)
            forward = cache.renewal_forward(backend, float(backend.settings.get("fresh_seconds", 30)))
        extensions["renewal_forward"] = forward
    return extensions["renewal_forward"]


@bp.post("/renew")
def renew(primary_id):
    """Renew the ticked loans (``loan_id``), or all (``which=all``), by the kiosk's rules; each outcome is shown
    beside its loan."""
    user = or_404(accounts.get_user(primary_id))
    loan_ids = None
    if request.form.get("which") != "all":
        values = request.form.getlist("loan_id")
        if not all(value.isdigit() for value in values):
            return patron_page(primary_id, 422, tab="loans", error="A ticked loan is not a loan: nothing was renewed.")
        loan_ids = [int(value) for value in values]
    from library_kiosk.central.upstream.base import UpstreamError

    try:
        outcomes = desk.renew(user, loan_ids, today(), operator(), renewal_forward())
    except Invalid as exc:
        return patron_page(primary_id, 422, tab="loans", error=" ".join(exc.errors.values()))
    except UpstreamError as exc:  # the library system failed the request as a whole (not one loan's refusal)
        return patron_page(primary_id, 502, tab="loans",
                           error=f"The renewal could not be completed: {exc.message} The loans below are as the "
                                 "central store now has them.")
    renewed = sum(1 for decision, _title, _entry in outcomes if decision.renewed)
    target = url_for("patrons.patron", primary_id=primary_id, tab="loans", slip=earlier_slip(),
                     outcome=[f"{decision.loan_id}.{entry.id}" for decision, _title, entry in outcomes])
    return done(target, f"{renewed} of {len(outcomes)} loan{'' if len(outcomes) == 1 else 's'} renewed.")


@bp.post("/slip")
def slip(primary_id):
    """A slip of what was just done at the desk (``entry``: the audit entries of the renewals or the unlock),
    printed from the browser (a print-friendly page; recorded as a printed letter) or emailed to the patron's
    preferred address through the letters (``channel``)."""
    user = or_404(accounts.get_user(primary_id))
    channel = request.form.get("channel", "")
    entries = desk.slip_lines(user, [int(v) for v in request.form.getlist("entry") if v.isdigit()][:200])
    if channel not in ("email", "print"):
        return patron_page(primary_id, 422, tab="letters", error="Choose to print or to email the slip.")
    if not entries:
        return patron_page(primary_id, 422, tab="letters", error="There is nothing of this patron's to put on a slip.")
    letter = letters.send_letter(user, "DeskSlipLetter", current_app.config["KIOSK"], operator(), channel=channel,
                                 today=today(), lines=[entry.detail for entry in entries])
    if letter.status == "failed":
        return patron_page(primary_id, 502, tab="letters", error=letter.error)
    if channel == "print":
        return redirect(url_for("desk.print_slip", primary_id=primary_id, letter_id=letter.id), 303)
    return done(url_for("patrons.patron", primary_id=primary_id, tab="letters"), f"Slip sent to {letter.recipient}.")


@bp.get("/slips/<int:letter_id>")
def print_slip(primary_id, letter_id):
    """A printed slip as a page of its own, for the browser's print (no station navigation around it)."""
    user = or_404(accounts.get_user(primary_id))
    found = or_404(letters.Letter.get_or_none((letters.Letter.id == letter_id) & (letters.Letter.user == user)
                                              & (letters.Letter.letter_type == "DeskSlipLetter")))
    return render_template("slip.html", user=user, letter=found)
