"""The renewal decision: may this loan be renewed today, and until when?

Rules, checked in this order so the patron hears the most useful reason:
the item is lost or claimed returned; the patron's membership has expired;
the patron is blocked; the loan has reached the group's maximum renewals; another
patron has requested the item. A renewed loan is due ``loan_period_days`` from
today, capped at the patron's last valid day; a renewal that would not move the
due date later is refused.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TypedDict

from library_kiosk.domain.account import Account, Loan
from library_kiosk.domain.blocks import active_blocks
from library_kiosk.domain.membership import is_expired, last_valid_day

REASONS = {
    "lost": "This item is recorded as lost. Please ask at the desk.",
    "claimed_returned": "This item is recorded as claimed returned. Please ask at the desk.",
    "returned": "This item has already been returned.",
    "expired": "Your membership has expired, so loans cannot be renewed.",
    "blocked": "Your account is blocked, so loans cannot be renewed.",
    "limit": "This item has been renewed the maximum number of times.",
    "requested": "Another patron has requested this item, so it cannot be renewed.",
    "no_extension": "Your membership ends too soon for this item to be renewed.",
    "unknown_loan": "This loan was not found on your account.",
    # given when a library system behind the central store decides (upstream/)
    "not_renewable": "This item cannot be renewed. Please ask at the desk.",
    "renewals_denied": "Renewals are not allowed on your account. Please ask at the desk.",
    "upstream_unavailable": "The library system cannot be reached just now. Please try again later.",
    "unconfirmed": "Your renewal was sent, but the library system did not confirm it. It will be checked, and "
                   "staff will see the outcome.",
}


class RenewalDecisionDict(TypedDict):
    """``RenewalDecision.to_dict()``: what the API and the sync protocol send."""

    loan_id: int
    renewed: bool
    new_due_date: str | None  # ISO date
    reason: str
    message: str


@dataclass(frozen=True)
class RenewalDecision:
    loan_id: int
    renewed: bool
    new_due_date: dt.date | None = None
    reason: str = ""

    @property
    def message(self) -> str:
        return REASONS.get(self.reason, "") if not self.renewed else f"Renewed until {self.new_due_date:%d %B %Y}."

    def to_dict(self) -> RenewalDecisionDict:
        return {
            "loan_id": self.loan_id,
            "renewed": self.renewed,
            "new_due_date": self.new_due_date.isoformat() if self.new_due_date else None,
            "reason": self.reason,
            "message": self.message,
        }


def decide(account: Account, loan: Loan, today: dt.date) -> RenewalDecision:
    def refuse(reason: str) -> RenewalDecision:
        return RenewalDecision(loan.loan_id, False, None, reason)

    if loan.status == "LOST":
        return refuse("lost")
    if loan.status == "CLAIMED_RETURNED":
        return refuse("claimed_returned")
    if loan.status != "ON_LOAN":
        return refuse("returned")
    if is_expired(account.expiry_date, today):
        return refuse("expired")
    if active_blocks(account, today):
        return refuse("blocked")
    if loan.renewals >= account.policy.max_renewals:
        return refuse("limit")
    if loan.requested_by_other:
        return refuse("requested")
    if not loan.renewable:
        return refuse("not_renewable")
    new_due = today + dt.timedelta(days=account.policy.loan_period_days)
    cap = last_valid_day(account.expiry_date)
    if cap is not None and new_due > cap:
        new_due = cap
    if new_due <= loan.due_date:
        return refuse("no_extension")
    return RenewalDecision(loan.loan_id, True, new_due, "")


def renewals_left(account: Account, loan: Loan) -> int:
    return max(0, account.policy.max_renewals - loan.renewals)
