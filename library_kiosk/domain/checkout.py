"""Self-checkout and return: the outcome of borrowing one item, and of giving one back, in our own terms.

Every layer speaks these: the domain rules (``decide_checkout`` / ``decide_checkin``, below), the central
store, the kiosk's outbox and sync, and each upstream back end (``library_kiosk.central.upstream.base``), which
maps its library system's answer (SIP2 12 / 10, Alma's loan and scan-in answers) onto a reason code here, so the
patron always reads one of these plain sentences and never a library system's code.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TypedDict

from library_kiosk.domain.account import Account, Loan
from library_kiosk.domain.blocks import active_blocks
from library_kiosk.domain.membership import is_expired, last_valid_day

CHECKOUT_REASONS = {
    # the patron
    "expired": "Your membership has expired, so you cannot borrow items. Please ask at the desk.",
    "blocked": "Your account is blocked, so you cannot borrow items. Please ask at the desk.",
    "loan_limit": "You have borrowed as many items as your membership allows.",
    "material_limit": "You have borrowed as many items of this kind as your membership allows.",
    # the item
    "unknown_item": "This item was not found. Please take it to the desk.",
    "not_circulating": "This item cannot be borrowed. It is for use in the library only.",
    "not_at_kiosk": "This item cannot be borrowed here. Please take it to the desk.",
    "on_loan_to_other": "This item is on loan to someone else. Please take it to the desk.",
    "already_yours": "You already have this item on loan.",
    "on_hold_for_other": "This item is waiting for another patron. Please take it to the desk.",
    "partial_set": "This item has several parts and not all of them are on the reader. Place every part on it.",
    "security_not_set": "This item could not be made ready to leave the library. Please take it to the desk.",
    # the library system or the network
    "upstream_refused": "The library system did not allow this loan. Please ask at the desk.",
    "upstream_unavailable": "The library system cannot be reached just now. Please try again later.",
    "offline_refused": "Items cannot be borrowed while the kiosk is offline. Please ask at the desk.",
    "offline_limit": "You have borrowed as many items as can be lent while the kiosk is offline.",
    "unconfirmed": "Your loan was sent, but the library system did not confirm it. Staff will check it.",
}

CHECKIN_ROUTES = {
    # where the returned item goes next: what the return screen tells the patron to do with it
    "shelf": "Returned. Thank you.",
    "hold_shelf": "Returned. Please put this item on the hold shelf.",
    "desk": "Returned. Please take this item to the desk.",
    "transit": "Returned. This item belongs to another library: please leave it at the desk.",
}

CHECKIN_REASONS = {
    "unknown_item": "This item was not found. Please take it to the desk.",
    "not_on_loan": "This item was not on loan. Please take it to the desk.",
    "partial_set": "This item has several parts and not all of them are on the reader. Place every part on it.",
    "upstream_refused": "The library system did not accept this return. Please take the item to the desk.",
    "queued": "Returned. The library system will be told as soon as it can be reached.",
}


class CheckoutDecisionDict(TypedDict):
    """``CheckoutDecision.to_dict()``: what the API and the sync protocol send."""

    item_barcode: str
    borrowed: bool
    due_date: str | None  # ISO date
    reason: str
    message: str


class CheckinOutcomeDict(TypedDict):
    """``CheckinOutcome.to_dict()``: what the API and the sync protocol send."""

    item_barcode: str
    returned: bool
    route: str
    late_fee: str | None  # a decimal amount in the library's currency, as text; None when nothing is owed
    reason: str
    message: str


@dataclass(frozen=True)
class CheckoutDecision:
    item_barcode: str
    borrowed: bool
    due_date: dt.date | None = None
    reason: str = ""
    title: str = ""
    # what the library system said beyond the decision (an upstream back end fills these): whether the item's
    # security should be cleared (SIP2's desensitize: None when it did not say, and the kiosk's own rule decides),
    # and its own words on a refusal (SIP2's screen message, Alma's error), kept for staff, never shown to patrons
    desensitize: bool | None = None
    upstream_message: str = ""

    @property
    def message(self) -> str:
        if self.borrowed:
            return f"Due back on {self.due_date:%d %B %Y}." if self.due_date else "Borrowed."
        return CHECKOUT_REASONS.get(self.reason, "")

    def to_dict(self) -> CheckoutDecisionDict:
        return {"item_barcode": self.item_barcode, "borrowed": self.borrowed,
                "due_date": self.due_date.isoformat() if self.due_date else None,
                "reason": self.reason, "message": self.message}


@dataclass(frozen=True)
class CheckinOutcome:
    item_barcode: str
    returned: bool
    route: str = "shelf"          # a key of CHECKIN_ROUTES when returned
    late_fee: Decimal | None = None
    reason: str = ""              # a key of CHECKIN_REASONS when not returned (or "queued")
    title: str = ""
    # from an upstream back end, as on CheckoutDecision: whether to set the item's security again (SIP2's
    # resensitize; None when not said), and the library system's own words (SIP2's screen message), for staff
    resensitize: bool | None = None
    upstream_message: str = ""

    @property
    def message(self) -> str:
        if self.returned and self.reason != "queued":
            return CHECKIN_ROUTES.get(self.route, CHECKIN_ROUTES["shelf"])
        return CHECKIN_REASONS.get(self.reason, "")

    def to_dict(self) -> CheckinOutcomeDict:
        return {"item_barcode": self.item_barcode, "returned": self.returned, "route": self.route,
                "late_fee": None if self.late_fee is None else f"{self.late_fee:.2f}",
                "reason": self.reason, "message": self.message}


# --- the rules (pure: the central store and the kiosk pass what they read) ---------------------------------------

@dataclass(frozen=True)
class Item:
    """An item as the rules see it: the central store's ``Item`` row (store/items.py) and its policy.
    ``loan_period_days`` None: the patron's group's loan period applies."""

    barcode: str
    title: str = ""
    material_type: str = ""
    library: str = ""
    circulates: bool = True
    kiosk_checkout: bool = True
    loan_period_days: int | None = None


@dataclass(frozen=True)
class Hold:
    """A request for the item: whose (primary id), its status (ON_HOLD_SHELF / IN_PROCESS / NOT_STARTED) and
    its place in the queue (None: unknown, counted after the numbered ones)."""

    primary_id: str
    status: str = "NOT_STARTED"
    place_in_queue: int | None = None


@dataclass(frozen=True)
class ItemState:
    """Where the item stands now: who has it on loan ("" when nobody), since when it is due, and its holds."""

    item: Item
    borrower: str = ""
    due_date: dt.date | None = None
    holds: tuple[Hold, ...] = ()


@dataclass(frozen=True)
class Limits:
    """The patron's loans that count against the material type's limit, and that limit (None: no limit)."""

    material_loans: int = 0
    material_limit: int | None = None


def first_hold(holds: tuple[Hold, ...] | list[Hold]) -> Hold | None:
    """The hold that has the item next: one already on the hold shelf, else the first in the queue."""
    if not holds:
        return None
    on_shelf = [h for h in holds if h.status == "ON_HOLD_SHELF"]
    if on_shelf:
        return on_shelf[0]
    return min(holds, key=lambda h: (h.place_in_queue is None, h.place_in_queue or 0))


def due_date(today: dt.date, period_days: int, expiry_date: dt.date | None,
             closed_days: frozenset[dt.date] = frozenset()) -> dt.date:
    """``today`` plus the loan period, capped at the patron's last valid day, moved to the next open day when it
    falls on a closed day; a move past the cap goes back to the last open day before it instead (never before
    today: a patron whose membership ends today gets today)."""
    due = today + dt.timedelta(days=max(0, period_days))
    cap = last_valid_day(expiry_date)
    if cap is not None and due > cap:
        due = max(cap, today)
    moved = due
    while moved in closed_days:
        moved += dt.timedelta(days=1)
    if cap is None or moved <= cap:
        return moved
    back = due
    while back in closed_days and back > today:
        back -= dt.timedelta(days=1)
    return back


def decide_checkout(account: Account, state: ItemState | None, today: dt.date, limits: Limits = Limits(),
                    closed_days: frozenset[dt.date] = frozenset(), at_desk: bool = False) -> CheckoutDecision:
    """May the patron of ``account`` borrow this item today, and until when? ``state`` None: the item is unknown.

    Checked in this order, so the patron hears the most useful reason: the item is unknown; it is already on loan
    to this patron; the membership has expired; the account is blocked (domain/blocks.py: inactive, fines,
    overdue loans, manual blocks); the item may not circulate; it may not be borrowed at a kiosk; it is on loan to
    someone else; it is on the hold shelf for, or first in the queue of, another patron; the group's loan limit;
    the material type's limit. Granted: due ``due_date(...)`` with the item's loan period, else the group's.
    ``at_desk``: staff lend it at the station's desk, where an item kept from kiosks (``kiosk_checkout`` false)
    may be lent; every other rule is the kiosk's.
    """
    barcode = state.item.barcode if state is not None else ""

    def refuse(reason: str) -> CheckoutDecision:
        return CheckoutDecision(barcode, False, None, reason, state.item.title if state else "")

    if state is None:
        return CheckoutDecision("", False, None, "unknown_item")
    item = state.item
    if state.borrower and state.borrower == account.primary_id:
        return refuse("already_yours")
    if is_expired(account.expiry_date, today):
        return refuse("expired")
    if any(block.code != "expired" for block in active_blocks(account, today)):
        return refuse("blocked")
    if not item.circulates:
        return refuse("not_circulating")
    if not item.kiosk_checkout and not at_desk:
        return refuse("not_at_kiosk")
    if state.borrower:
        return refuse("on_loan_to_other")
    holder = first_hold(state.holds)
    if holder is not None and holder.primary_id != account.primary_id:
        return refuse("on_hold_for_other")
    if len(open_loans(account)) >= account.policy.loan_limit:
        return refuse("loan_limit")
    if limits.material_limit is not None and limits.material_loans >= limits.material_limit:
        return refuse("material_limit")
    period = item.loan_period_days if item.loan_period_days is not None else account.policy.loan_period_days
    return CheckoutDecision(barcode, True, due_date(today, period, account.expiry_date, closed_days), "", item.title)


def open_loans(account: Account) -> tuple[Loan, ...]:
    """The loans that count against the loan limit: every loan not returned (on loan, lost, claimed returned)."""
    return tuple(loan for loan in account.loans if loan.status != "RETURNED")


def decide_checkin(state: ItemState | None, today: dt.date, library: str = "",
                   fine_per_day: Decimal = Decimal("0")) -> CheckinOutcome:
    """What becomes of an item given back today at a kiosk of ``library`` ("": every item is this library's).

    Unknown: refused (``unknown_item``, to the desk). Not on loan: refused (``not_on_loan``, route "desk").
    On loan: returned, with a late fee of ``fine_per_day`` for each day past its due date (None when nothing is
    owed), routed to "transit" when it belongs to another library, else to "hold_shelf" when someone holds it,
    else to "shelf".
    """
    if state is None:
        return CheckinOutcome("", False, "desk", None, "unknown_item")
    item = state.item
    if not state.borrower:
        return CheckinOutcome(item.barcode, False, "desk", None, "not_on_loan", item.title)
    late_days = (today - state.due_date).days if state.due_date is not None else 0
    fee = (fine_per_day * late_days).quantize(Decimal("0.01")) if late_days > 0 and fine_per_day > 0 else None
    if library and item.library and item.library != library:
        route = "transit"
    elif first_hold(state.holds) is not None:
        route = "hold_shelf"
    else:
        route = "shelf"
    return CheckinOutcome(item.barcode, True, route, fee, "", item.title)


def decide_offline_checkout(account: Account, item_barcode: str, today: dt.date, borrowed_offline: int,
                            offline_limit: int) -> CheckoutDecision:
    """A kiosk's own decision while the central store cannot be reached (``[kiosk] offline_checkout = "allow"``):
    it knows the cached account but not the item, so it checks the patron (already has it, expired, blocked, the
    group's loan limit) and how many items it has lent them offline (``offline_limit``); the due date is the
    group's loan period, capped at the last valid day. The central store decides again on replay."""
    def refuse(reason: str) -> CheckoutDecision:
        return CheckoutDecision(item_barcode, False, None, reason)

    if any(loan.item_barcode == item_barcode for loan in open_loans(account)):
        return refuse("already_yours")
    if is_expired(account.expiry_date, today):
        return refuse("expired")
    if any(block.code != "expired" for block in active_blocks(account, today)):
        return refuse("blocked")
    if borrowed_offline >= offline_limit:
        return refuse("offline_limit")
    if len(open_loans(account)) >= account.policy.loan_limit:
        return refuse("loan_limit")
    return CheckoutDecision(item_barcode, True, due_date(today, account.policy.loan_period_days,
                                                         account.expiry_date), "")
