"""Renewals at the central store: the domain decides, this module writes."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from library_kiosk.central.store import changes
from library_kiosk.central.store.accounts import build_account
from library_kiosk.central.store.db import write_transaction
from library_kiosk.central.store.models import Loan, User
from library_kiosk.domain.checkout import CheckinOutcome, CheckoutDecision
from library_kiosk.domain.renewal import RenewalDecision, decide

Forward = Callable[[User, "list[int] | None", dt.date], "list[RenewalDecision]"]


def renew(user: User, loan_ids: list[int] | None, today: dt.date,
          forward: Forward | None = None) -> list[RenewalDecision]:
    """Renew the given loans of ``user`` (all open loans when ``loan_ids`` is None).

    Each loan gets its own decision; renewed loans are written in one transaction
    with a change record so kiosks learn the new due dates. When the central store sits in front of
    another library system, the central app passes that system's ``forward`` (upstream/cache.py) and
    the upstream decides; None keeps renewals local, exactly as below.
    """
    if forward is not None:
        return forward(user, loan_ids, today)
    return renew_locally(user, loan_ids, today)


MAX_DECISIONS = 50  # each miss means another renewal of the loan was written: the renewal limit ends it sooner


def renew_locally(user: User, loan_ids: list[int] | None, today: dt.date) -> list[RenewalDecision]:
    """The central store's own renewal rules (``domain.renewal.decide``), each decision atomic with its write.

    Two kiosks (or a kiosk, the station and an outbox replay) renewing the same loan at once must give one
    renewal, never two past the limit. So the write is conditional on the loan being as it was when decided
    (same renewals count and due date): if another renewal got there first, the row no longer matches, the
    loan is read again and decided again on what is there now. On SQLite the transaction takes the write lock
    at its start, so renewals are serial; on PostgreSQL the conditional update waits for the other writer's
    row lock and re-checks the condition on the committed row.
    """
    with write_transaction():
        account = build_account(user)
        wanted = [loan.loan_id for loan in account.loans] if loan_ids is None else loan_ids
        decisions = []
        for loan_id in wanted:
            decision, account = _decide_and_write(user, account, loan_id, today)
            decisions.append(decision)
        if any(d.renewed for d in decisions):
            changes.record(user.primary_id)
    return decisions


def _decide_and_write(user: User, account, loan_id: int, today: dt.date):
    """(decision, account as last read) for one loan; the renewal written only if the loan did not change."""
    for _attempt in range(MAX_DECISIONS):
        loan = account.loan(loan_id)
        if loan is None:
            return RenewalDecision(loan_id, False, None, "unknown_loan"), account
        decision = decide(account, loan, today)
        if not decision.renewed:
            return decision, account
        written = Loan.update(due_date=decision.new_due_date, renewals=Loan.renewals + 1).where(
            (Loan.id == loan_id) & (Loan.renewals == loan.renewals) & (Loan.due_date == loan.due_date)
            & (Loan.status == loan.status)).execute()
        if written:
            return decision, account
        account = build_account(user)  # renewed (or returned) meanwhile: decide again on the loan as it is now
    raise RuntimeError(f"loan {loan_id} changed under {MAX_DECISIONS} renewal decisions in a row")


# --- checkout and return (issue 18): store/lending.py writes, domain/checkout.py decides ---

# A library system behind the central store lending or taking back instead of the store's rules: the API passes
# ``(primary_id, item_barcode, today, key) -> CheckoutDecision`` and ``(item_barcode, today, key, library) ->
# CheckinOutcome`` built on the upstream (``upstream/cache.py`` ``checkout_through`` / ``checkin_through``, which
# read a lost answer back), as it passes ``renewal_forward``; None: the store's own rules.
CheckoutForward = Callable[[str, str, dt.date, str], CheckoutDecision]
CheckinForward = Callable[[str, dt.date, str, str], CheckinOutcome]


def checkout(user: User, item_barcode: str, today: dt.date, key: str = "",
             forward: CheckoutForward | None = None, at_desk: bool = False) -> CheckoutDecision:
    """Lend an item to ``user``, once per ``key``: the store's rules (store/lending.py; ``at_desk``: staff lend it
    at the station's desk), or with ``forward`` the library system's, the store keeping a copy of the loan
    (``lending.checkout_through``)."""
    from library_kiosk.central.store import lending

    if forward is not None:
        return lending.checkout_through(user, item_barcode, today, key,
                                        lambda: forward(user.primary_id, item_barcode, today, key))
    return lending.checkout(user, item_barcode, today, key, at_desk)


def checkin(item_barcode: str, today: dt.date, key: str = "", library: str = "",
            forward: CheckinForward | None = None) -> CheckinOutcome:
    """Take an item back at a kiosk of ``library``, once per ``key``; ``forward`` as for ``checkout``."""
    from library_kiosk.central.store import lending

    if forward is not None:
        return lending.checkin_through(item_barcode, today, key, lambda: forward(item_barcode, today, key, library))
    return lending.checkin(item_barcode, today, key, library)
