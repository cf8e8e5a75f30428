"""The desk: fines and fees (add, pay, waive), loans (claimed returned, lost, found),
requests and the requests report, and every letter the patron was sent."""
from __future__ import annotations

from flask import Blueprint, current_app, request

from library_kiosk.central.store import accounts, desk, fees, letters
from library_kiosk.central.store.models import Fee, Loan
from library_kiosk.central.store.registration import Invalid
from provisioning.patrons import patron_page
from provisioning.views import operator, or_404, render, setting_amount, upstream_writer

bp = Blueprint("desk", __name__, url_prefix="/patrons/<primary_id>")


def _attempt(primary_id, tab, work, done):
    try:
        result = work()
    except Invalid as exc:
        return patron_page(primary_id, 422, tab=tab, form=request.form, errors=exc.errors,
                           error=" ".join(exc.errors.values()))
    return patron_page(primary_id, tab=tab, notice=done(result) if callable(done) else done)


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
                    lambda t: f"{'Paid' if kind == 'PAYMENT' else 'Waived'} {t.amount:.2f}.")


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
    done = f"sent to {letter.recipient}" if channel == "email" else "ready to print (see the Letters tab)"
    return patron_page(primary_id, tab=tab, notice=f"{title} {done}.")


@bp.get("/letters/<int:letter_id>")
def letter(primary_id, letter_id):
    user = or_404(accounts.get_user(primary_id))
    found = or_404(letters.Letter.get_or_none((letters.Letter.id == letter_id) & (letters.Letter.user == user)))
    return render("letter.html", user=user, letter=found)
