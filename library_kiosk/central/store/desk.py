"""Loans at the desk: all loans with the row actions Harvard's guide lists.

On loan: claimed returned or lost. Claimed returned: lost or found. Lost: found.
Lost charges the lost-item replacement fee; found reverses it (the fee is waived with
a recorded transaction and closed) and puts the loan back on loan.
"""
from __future__ import annotations

from decimal import Decimal

from library_kiosk.central.store import changes, fees, staff
from library_kiosk.central.store.db import database
from library_kiosk.central.store.models import Fee, Loan, User
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
