"""What the kiosk's routes ask for, in one place: find a patron, renew, lock a card.

The routes call these functions and nothing else below them, so how an answer
is obtained (the local cache, the central store over HTTP, later the outbox when
the central store is down) can change without touching a screen.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app

from domain.account import Account
from kiosk.central_client import CentralError, CentralUnavailable


@dataclass(frozen=True)
class RenewalOutcome:
    loan_id: int
    title: str
    renewed: bool
    new_due_date: dt.date | None
    reason: str
    message: str
    pending: bool = False  # decided locally while the central store was down; confirmed on replay


def _cache():
    return current_app.extensions["patron_cache"]


def _central():
    return current_app.extensions["central"]


def find_patron(identifier: str) -> Account | None:
    return _cache().find(identifier)


def get_patron(primary_id: str) -> Account | None:
    return _cache().get(primary_id)


def renew(account: Account, loan_ids: list[int] | None) -> list[RenewalOutcome]:
    """Renew the given loans (all when None) at the central store; refresh the cached account.

    Raises ``CentralUnavailable`` when the central store does not answer.
    """
    titles = {loan.loan_id: loan.title for loan in account.loans}
    results = _central().renew(account.primary_id, loan_ids)
    try:
        fresh = Account.from_dict(_central().account(account.primary_id) | {"pin_hash": account.pin_hash})
        _cache().replace_account(fresh)
    except (CentralUnavailable, CentralError):
        pass  # the next sync brings the new due dates
    return [
        RenewalOutcome(
            loan_id=r["loan_id"],
            title=titles.get(r["loan_id"], ""),
            renewed=r["renewed"],
            new_due_date=dt.date.fromisoformat(r["new_due_date"]) if r["new_due_date"] else None,
            reason=r["reason"],
            message=r["message"],
        )
        for r in results
    ]
