"""The renewal decision: may this loan be renewed today, and until when?

Rules, checked in this order so the patron hears the most useful reason:
the item is lost or claimed returned; the patron's membership has expired;
the patron is blocked; the item allows no renewals at all (its own policy); the loan
has reached its renewal limit (the stricter of the group's ``max_renewals`` and the
item's, ``renewal_limit``); another patron has requested the item. A renewed loan
is due ``loan_period_days`` from today, capped at the patron's last valid day; a renewal that would not move the
due date later is refused ("no_extension"). Its words say why (``RenewalDecision.detail``): the membership's last
day is on or before the due date ("membership_ends"), or the loan is already due as late as a renewal today would make
it, typically just renewed ("no_extension": try again nearer the due date).
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
    "item_no_renewals": "This item is lent without renewals. Please ask at the desk if you need it longer.",
    "requested": "Another patron has requested this item, so it cannot be renewed.",
    "no_extension": "This item was renewed as far as it can be for now. Please try again nearer the due date.",
    # words only (``RenewalDecision.detail``): a "no_extension" because the membership ends on the due date
    "membership_ends": "Your membership ends too soon for this item to be renewed.",
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
    detail: str = ""  # finer words for ``reason`` ("membership_ends" for some "no_extension"); not sent on

    @property
    def message(self) -> str:
        if self.renewed:
            return f"Renewed until {self.new_due_date:%d %B %Y}."
        return REASONS.get(self.detail or self.reason, "")

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

    if reason := _status_refusal(loan):
        return refuse(reason)
    if is_expired(account.expiry_date, today):
        return refuse("expired")
    if active_blocks(account, today):
        return refuse("blocked")
    if reason := _limit_refusal(account, loan):
        return refuse(reason)
    if loan.requested_by_other:
        return refuse("requested")
    if not loan.renewable:
        return refuse("not_renewable")
    uncapped = today + dt.timedelta(days=account.policy.loan_period_days)
    cap = last_valid_day(account.expiry_date)
    new_due = min(uncapped, cap) if cap is not None else uncapped
    if new_due <= loan.due_date:
        return RenewalDecision(loan.loan_id, False, None, "no_extension", no_extension_detail(account, loan))
    return RenewalDecision(loan.loan_id, True, new_due, "")


def no_extension_detail(account: Account, loan: Loan) -> str:
    """Why a renewal would not move the loan's due date later: "membership_ends" when the loan is already due on
    (or after) the membership's last day, so no renewal can help before the membership is renewed; else
    "no_extension" (already due as late as a renewal today would make it: typically renewed just now, so renewing
    again only helps nearer the due date)."""
    cap = last_valid_day(account.expiry_date)
    return "membership_ends" if cap is not None and cap <= loan.due_date else "no_extension"


def _status_refusal(loan: Loan) -> str:
    """The reason a loan in this status cannot be renewed ("" for a loan still out)."""
    return {"LOST": "lost", "CLAIMED_RETURNED": "claimed_returned", "ON_LOAN": ""}.get(loan.status, "returned")


def _limit_refusal(account: Account, loan: Loan) -> str:
    """"item_no_renewals" for an item lent without renewals, "limit" at the renewal limit, else ""."""
    if loan.max_renewals == 0:
        return "item_no_renewals"
    return "limit" if loan.renewals >= renewal_limit(account, loan) else ""


def renewal_limit(account: Account, loan: Loan) -> int:
    """How many renewals this loan may have: the group's ``max_renewals``, or the item's own limit when the
    central store knows the item and it is stricter."""
    if loan.max_renewals is None:
        return account.policy.max_renewals
    return min(account.policy.max_renewals, loan.max_renewals)


def renewals_left(account: Account, loan: Loan) -> int:
    return max(0, renewal_limit(account, loan) - loan.renewals)
