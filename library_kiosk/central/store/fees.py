"""Fines and fees at the desk: list with filters, add, pay, waive (with the operator)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from library_kiosk.central.store import changes, limits, staff
from library_kiosk.central.store.db import database
from library_kiosk.central.store.models import Fee, FeeTransaction, User
from library_kiosk.central.store.registration import Invalid, write_upstream
from library_kiosk.domain import codes

CENT = Decimal("0.01")


def fees_of(user: User, fee_type: str = "", status: str = "") -> list[Fee]:
    query = Fee.select().where(Fee.user == user).order_by(Fee.created.desc(), Fee.id.desc())
    if fee_type:
        query = query.where(Fee.fee_type == fee_type)
    if status:
        query = query.where(Fee.status == status)
    return list(query)


def parse_amount(value: str, field: str = "amount", most: Decimal | None = None) -> Decimal:
    try:
        amount = Decimal((value or "").strip()).quantize(CENT)
    except InvalidOperation:
        raise Invalid({field: "Enter an amount like 5.00."}) from None
    if amount <= 0:
        raise Invalid({field: "The amount must be more than zero."})
    if most is not None and amount > most:
        raise Invalid({field: f"The amount must not be more than the balance, {most:.2f}."})
    return amount


def add_fee(user: User, form, operator: str, writer=None) -> Fee:
    fee_type = (form.get("fee_type") or "").strip()
    if fee_type not in codes.FEE_TYPES:
        raise Invalid({"fee_type": "Choose a fee type."})
    amount = parse_amount(form.get("amount"))
    comment = (form.get("comment") or "").strip()
    errors: dict[str, str] = {}
    limits.check("Fee", {"comment": comment}, errors)
    if errors:
        raise Invalid(errors)
    with database.atomic():
        fee = Fee.create(user=user, fee_type=fee_type, original_amount=amount, balance=amount, comment=comment)
        write_upstream(writer, "amount",
                       lambda upstream: upstream.add_fee(user.primary_id, fee_type, amount, fee.comment))
        changes.record(user.primary_id)
        staff.audit(operator, "fee.add", user.primary_id, f"{fee_type} {amount}")
    return fee


def settle(fee: Fee, kind: str, form, operator: str) -> FeeTransaction:
    """Pay (with a method) or waive (with a reason) part or all of a fee; CLOSED at zero."""
    if fee.status == "CLOSED":
        raise Invalid({"amount": "This fee is already closed."})
    amount = parse_amount(form.get("amount") or str(fee.balance), most=Decimal(fee.balance))
    reason, method = (form.get("reason") or "").strip(), (form.get("method") or "").strip()
    if kind == "WAIVE" and not reason:
        raise Invalid({"reason": "Give the reason for waiving."})
    too_long = limits.message("FeeTransaction", "reason", reason)
    if too_long:
        raise Invalid({"reason": too_long})
    if kind == "PAYMENT" and method not in codes.PAYMENT_METHODS:
        raise Invalid({"method": "Choose how the patron paid."})
    return record_transaction(fee, kind, amount, operator, reason, method)


def record_transaction(fee: Fee, kind: str, amount: Decimal, operator: str, reason: str = "",
                       method: str = "") -> FeeTransaction:
    with database.atomic():
        balance = Decimal(fee.balance) - amount
        status = "CLOSED" if balance <= 0 else fee.status
        Fee.update(balance=max(balance, Decimal("0")), status=status).where(Fee.id == fee.id).execute()
        row = FeeTransaction.create(fee=fee, transaction_type=kind, amount=amount, reason=reason[:200],
                                    method=method, operator=operator)
        changes.record(fee.user.primary_id)
        staff.audit(operator, f"fee.{kind.lower()}", fee.user.primary_id,
                    f"fee {fee.id} {fee.fee_type}: {amount} {reason or method}".strip())
    return row
