"""Renewals at the central store: the domain decides, this module writes."""
from __future__ import annotations

import datetime as dt

from domain.renewal import RenewalDecision, decide
from store import changes
from store.accounts import build_account
from store.db import database
from store.models import Loan, User


# Set by the upstream connector (upstream/cache.py) when the central store sits in front of
# another library system; None keeps renewals local, exactly as below.
forwarder = None


def renew(user: User, loan_ids: list[int] | None, today: dt.date) -> list[RenewalDecision]:
    """Renew the given loans of ``user`` (all open loans when ``loan_ids`` is None).

    Each loan gets its own decision; renewed loans are written in one transaction
    with a change record so kiosks learn the new due dates. With an upstream
    library system configured, the upstream decides (see upstream/cache.py).
    """
    if forwarder is not None:
        return forwarder(user, loan_ids, today)
    return renew_locally(user, loan_ids, today)


def renew_locally(user: User, loan_ids: list[int] | None, today: dt.date) -> list[RenewalDecision]:
    """The central store's own renewal rules (``domain.renewal.decide``)."""
    with database.atomic():
        account = build_account(user)
        wanted = [loan.loan_id for loan in account.loans] if loan_ids is None else loan_ids
        decisions = []
        for loan_id in wanted:
            loan = account.loan(loan_id)
            if loan is None:
                decisions.append(RenewalDecision(loan_id, False, None, "unknown_loan"))
                continue
            decision = decide(account, loan, today)
            decisions.append(decision)
            if decision.renewed:
                Loan.update(due_date=decision.new_due_date, renewals=Loan.renewals + 1).where(
                    Loan.id == loan_id
                ).execute()
        if any(d.renewed for d in decisions):
            changes.record(user.primary_id)
    return decisions
