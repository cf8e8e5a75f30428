"""Small builders of domain accounts for rule tests."""
import datetime as dt
from decimal import Decimal

from library_kiosk.domain.account import Account, Fee, GroupPolicy, Loan

TODAY = dt.date(2026, 11, 25)
POLICY = GroupPolicy(code="25", description="Special Borrower", loan_period_days=21, max_renewals=3,
                     fine_limit=Decimal("10.00"), overdue_limit=2)


def loan(loan_id=1, due=TODAY + dt.timedelta(days=3), renewals=0, status="ON_LOAN", requested=False):
    return Loan(loan_id=loan_id, item_barcode=f"3{loan_id:012d}", title="Middlemarch", author="Eliot, George",
                call_number="PR4662", loan_date=due - dt.timedelta(days=21), due_date=due, renewals=renewals,
                status=status, requested_by_other=requested)


def fee(amount, fee_id=1, status="ACTIVE"):
    return Fee(fee_id=fee_id, fee_type="OVERDUEFINE", original_amount=Decimal(amount), balance=Decimal(amount),
               status=status)


def account(loans=(), fees=(), expiry=TODAY + dt.timedelta(days=365), status="ACTIVE", blocks=(), policy=POLICY):
    return Account(primary_id="P1", first_name="Zoë", last_name="Ólafsdóttir", policy=policy, expiry_date=expiry,
                   status=status, loans=tuple(loans), fees=tuple(fees), blocks=tuple(blocks))
