"""Loans at the desk: all loans with the row actions Harvard's guide lists.

On loan: claimed returned or lost. Claimed returned: lost or found. Lost: found.
Lost charges the lost-item replacement fee; found reverses it (the fee is waived with
a recorded transaction and closed) and puts the loan back on loan.

Renewals at the desk (``renew``) go through the same decision as a kiosk's (``circulation.renew``: the domain's
rules, or the library system behind the central store), each loan with its own outcome and plain reason, and each
outcome in the audit log; ``slip_lines`` reads those entries (and an unlock's) back for the patron's slip.
"""
from __future__ import annotations

from decimal import Decimal

from library_kiosk.central.store import changes, circulation, fees, staff
from library_kiosk.central.store.accounts import build_account
from library_kiosk.central.store.db import database
from library_kiosk.central.store.models import Fee, Loan, User
from library_kiosk.central.store.pin_checks import UNLOCK_ACTION
from library_kiosk.central.store.registration import Invalid

ACTIONS = {
    "ON_LOAN": ("CLAIMED_RETURNED", "LOST"),
    "CLAIMED_RETURNED": ("LOST", "FOUND"),
    "LOST": ("FOUND",),
}
ACTION_LABELS = {"CLAIMED_RETURNED": "Claimed returned", "LOST": "Lost", "FOUND": "Found"}
LOST_FEE = "LOSTITEMREPLACEMENTFEE"


def all_loans(user: User) -> list[Loan]:
    return list(Loan.select().where(Loan.user == user).order_by(Loan.status == "RETURNED", Loan.due_date, Loan.id))


def actions_for(loan: Loan) -> tuple[str, ...]:
    return ACTIONS.get(loan.status, ())


def mark(loan: Loan, action: str, operator: str, lost_fee: Decimal) -> Loan:
    if action not in actions_for(loan):
        raise Invalid({"action": f"A loan that is {loan.status.replace('_', ' ').lower()} cannot be marked "
                                 f"{ACTION_LABELS.get(action, action).lower()}."})
    user = loan.user
    with database.atomic():
        if action == "LOST":
            Fee.create(user=user, loan=loan, fee_type=LOST_FEE, original_amount=lost_fee, balance=lost_fee,
                       title=loan.title, comment="Item marked lost")
            status = "LOST"
        elif action == "FOUND":
            for fee in Fee.select().where((Fee.loan == loan) & (Fee.fee_type == LOST_FEE) & (Fee.status != "CLOSED")):
                fees.record_transaction(fee, "WAIVE", Decimal(fee.balance), operator, "Item found")
            status = "ON_LOAN"
        else:
            status = action
        Loan.update(status=status).where(Loan.id == loan.id).execute()
        changes.record(user.primary_id)
        staff.audit(operator, f"loan.{action.lower()}", user.primary_id, f"{loan.item_barcode} {loan.title}")
    return Loan.get_by_id(loan.id)


RENEW_ACTION = "loan.renew"
RENEW_REFUSED_ACTION = "loan.renew_refused"
CHECKOUT_ACTION, CHECKOUT_REFUSED_ACTION = "loan.checkout", "loan.checkout_refused"  # provisioning/desk_circulation.py
SLIP_ACTIONS = (RENEW_ACTION, RENEW_REFUSED_ACTION, UNLOCK_ACTION, CHECKOUT_ACTION, CHECKOUT_REFUSED_ACTION)


def renew(user: User, loan_ids: list[int] | None, today, operator: str, forward=None) -> list:
    """Renew the ticked loans (``loan_ids``), or every open loan (None), as a kiosk would: the same decision
    (``circulation.renew`` with the library system's ``forward`` when there is one). Returns (decision, loan's
    title, audit entry) per loan. ``Invalid`` and nothing renewed when a ticked loan is not an open loan of the
    patron, or there is nothing to renew."""
    account = build_account(user)
    open_loans = {loan.loan_id: loan for loan in account.loans}
    if loan_ids is not None and not loan_ids:
        raise Invalid({"loan_id": "Tick the loans to renew, or choose Renew all."})
    if loan_ids is not None and any(loan_id not in open_loans for loan_id in loan_ids):
        raise Invalid({"loan_id": "A ticked loan is no longer on this patron's account (returned meanwhile?). "
                                  "Nothing was renewed: look at the loans again."})
    if not open_loans:
        raise Invalid({"loan_id": "This patron has no loans to renew."})
    decisions = circulation.renew(user, loan_ids, today, forward)
    done = []
    with database.atomic():
        for decision in decisions:
            loan = open_loans.get(decision.loan_id)
            title = loan.title if loan else f"loan {decision.loan_id}"
            line = _renewal_line(decision, title, loan.item_barcode if loan else "")
            entry = staff.audit(operator, RENEW_ACTION if decision.renewed else RENEW_REFUSED_ACTION,
                                user.primary_id, line)
            done.append((decision, title, entry))
    return done


def _renewal_line(decision, title: str, barcode: str) -> str:
    """What the audit log and the slip say of one renewal asked at the desk."""
    item = f"{title} ({barcode})" if barcode else title
    if decision.renewed:
        return f"Renewed {item} until {decision.new_due_date:%d %B %Y}."
    return f"Not renewed: {item}. {decision.message or 'It could not be renewed.'}"


def slip_lines(user: User, entry_ids: list[int]) -> list:
    """The audit entries a slip tells the patron of (renewals asked at the desk, an unlock): only this patron's,
    oldest first."""
    if not entry_ids:
        return []
    return list(staff.AuditEntry.select().where(
        staff.AuditEntry.id.in_(entry_ids) & (staff.AuditEntry.primary_id == user.primary_id)
        & staff.AuditEntry.action.in_(SLIP_ACTIONS)).order_by(staff.AuditEntry.created, staff.AuditEntry.id))
