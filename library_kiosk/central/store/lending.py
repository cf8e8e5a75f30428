"""Checkout and return at the central store (issue 18): the domain decides (domain/checkout.py), this module
reads what the rules need and writes the outcome, each in one transaction, exactly once per idempotency key.

Exactly once: every checkout and return carries a key (the kiosk's outbox key, namespaced by device, or the API
caller's). The first answer is stored with the key in the transaction that writes the loan
(``CirculationOp``); the same key again gets that answer back and changes nothing, whatever happened between
(an answer lost on the way, a kiosk killed and replaying). The same key with another item is refused.

Two kiosks borrowing one item at once: on PostgreSQL the item's row is locked (``SELECT ... FOR UPDATE``) after
the patron's, so the second waits for the first to commit and then decides on the loan the first wrote
(``on_loan_to_other``); on SQLite the transaction takes the write lock at its start (``write_transaction``),
so checkouts and returns are serial. Returns lock the item row only.
"""
from __future__ import annotations

import datetime as dt
import json

import peewee as pw

from library_kiosk.central.store import changes, items
from library_kiosk.central.store.accounts import build_account
from library_kiosk.central.store.db import is_postgres, write_transaction
from library_kiosk.central.store.models import BaseModel, Fee, Loan, Request, User, _now
from library_kiosk.domain import checkout as rules


class CirculationOp(BaseModel):
    """A checkout or return applied, by its idempotency key, with the answer given (JSON)."""

    key = pw.CharField(max_length=160, unique=True)
    op_type = pw.CharField(max_length=10)  # checkout / checkin
    item_barcode = pw.CharField(max_length=60)
    response = pw.TextField()
    created = pw.DateTimeField(default=_now)


LENDING_MODELS = [CirculationOp]


class KeyReused(ValueError):
    """The key was used before for another operation or item."""


def _replayed(key: str, op_type: str, item_barcode: str) -> dict | None:
    if not key:
        return None
    row = CirculationOp.get_or_none(CirculationOp.key == key)
    if row is None:
        return None
    if row.op_type != op_type or row.item_barcode != item_barcode:
        raise KeyReused(f"The key {key!r} was used before for another {row.op_type} ({row.item_barcode}).")
    return json.loads(row.response)


def _remember(key: str, op_type: str, item_barcode: str, answer: dict) -> None:
    if key:
        CirculationOp.create(key=key, op_type=op_type, item_barcode=item_barcode,
                             response=json.dumps(answer, sort_keys=True))


def settled_as_lent(key: str, item_barcode: str, due_date: dt.date | None, title: str = "") -> None:
    """A checkout answered ``unconfirmed`` and later found lent (upstream/settle_circulation.py): the answer kept
    under its key becomes the loan, so a client sending the key again is told what happened, and nothing is sent."""
    answer = decision_answer(rules.CheckoutDecision(item_barcode, True, due_date, "", title))
    CirculationOp.update(response=json.dumps(answer, sort_keys=True)).where(
        (CirculationOp.key == key) & (CirculationOp.op_type == "checkout")).execute()


def _lock(model, condition) -> None:
    """Lock the rows ``condition`` finds until the transaction ends (PostgreSQL; SQLite holds the write lock)."""
    if is_postgres():
        list(model.select(model.id).where(condition).for_update())


def decision_answer(decision: rules.CheckoutDecision) -> dict:
    """A checkout's answer as the API and the sync protocol send it, and as it is stored under its key: the
    decision's dictionary, its title, and whether the item's security is to be cleared (None: not said)."""
    return {**decision.to_dict(), "title": decision.title, "desensitize": decision.desensitize}


def outcome_answer(outcome: rules.CheckinOutcome) -> dict:
    """A return's answer, as ``decision_answer``: with the title and whether to set the security again."""
    return {**outcome.to_dict(), "title": outcome.title, "resensitize": outcome.resensitize}


def _decision(data: dict) -> rules.CheckoutDecision:
    due = data.get("due_date")
    return rules.CheckoutDecision(data["item_barcode"], bool(data["borrowed"]),
                                  dt.date.fromisoformat(due) if due else None, data.get("reason", ""),
                                  data.get("title", ""), data.get("desensitize"), data.get("upstream_message", ""))


def _outcome(data: dict) -> rules.CheckinOutcome:
    from decimal import Decimal

    fee = data.get("late_fee")
    return rules.CheckinOutcome(data["item_barcode"], bool(data["returned"]), data.get("route", "desk"),
                                Decimal(fee) if fee else None, data.get("reason", ""), data.get("title", ""),
                                data.get("resensitize"), data.get("upstream_message", ""))


def _stored(answer: dict, upstream_message: str) -> dict:
    """What is kept under the key: the answer, and the library system's own words for staff."""
    return {**answer, "upstream_message": upstream_message} if upstream_message else answer


def item_state(barcode: str) -> rules.ItemState | None:
    """The item as the rules see it (None: unknown), with its open loan and its holds."""
    item = items.get_item(barcode)
    row = (Loan.select(Loan.due_date, User.primary_id, Loan.title).join(User, pw.JOIN.LEFT_OUTER,
                                                                        on=(Loan.user == User.id))
           .where((Loan.item_barcode == barcode) & Loan.still_out()).order_by(Loan.id.desc()).tuples().first())
    if item is None and row is None:
        return None
    borrower, due = ("", None) if row is None else (row[1] or "?", items._day(row[0]))
    # a loan made before its item was recorded (loans refer to items by barcode only) can still come back
    known = items.as_rule_item(item) if item is not None else rules.Item(barcode=barcode, title=row[2])
    return rules.ItemState(known, borrower, due, items.holds_of(barcode))


def _material_limits(user: User, item: items.Item | None) -> rules.Limits:
    if item is None:
        return rules.Limits()
    limit = items.material_limit(user.user_group_id, item.material_type)
    if limit is None:
        return rules.Limits()
    count = (Loan.select().join(items.Item, on=(Loan.item_barcode == items.Item.barcode))
             .where((Loan.user == user.id) & Loan.still_out() & (items.Item.material_type == item.material_type))
             .count())
    return rules.Limits(count, limit)


def checkout(user: User, item_barcode: str, today: dt.date, key: str = "",
             at_desk: bool = False) -> rules.CheckoutDecision:
    """Lend ``item_barcode`` to ``user`` if the rules allow (``rules.decide_checkout``; ``at_desk``: lent by staff at
    the station, where an item kept from kiosks may be lent): a loan, the patron's own hold on the item fulfilled
    (removed), a change recorded so kiosks learn of it; all in one transaction."""
    item_barcode = item_barcode.strip()
    with write_transaction():
        earlier = _replayed(key, "checkout", item_barcode)
        if earlier is not None:
            return _decision(earlier)
        _lock(User, User.id == user.id)
        _lock(items.Item, items.Item.barcode == item_barcode)
        user = User.get_by_id(user.id)
        item = items.get_item(item_barcode)
        state = item_state(item_barcode) if item is not None else None  # an unrecorded item is never lent
        library = item.library if item else ""
        decision = rules.decide_checkout(build_account(user), state, today, _material_limits(user, item),
                                         items.closed_days(library, today) if state else frozenset(), at_desk)
        if state is None:
            decision = rules.CheckoutDecision(item_barcode, False, None, "unknown_item")
        if decision.borrowed and item is not None:
            Loan.create(user=user, user_group=user.user_group_id, item_barcode=item.barcode, title=item.title,
                        author=item.author, call_number=item.call_number, loan_date=today,
                        due_date=decision.due_date)
            mine = Request.delete().where((Request.user == user.id) & (Request.item_barcode == item.barcode)
                                          & Request.status.in_(items.ACTIVE_HOLDS)).execute()
            changes.record(user.primary_id)
            if mine:
                changes.record_item_holders([item.barcode])
        _remember(key, "checkout", item_barcode, _stored(decision_answer(decision), decision.upstream_message))
    return decision


def checkin(item_barcode: str, today: dt.date, key: str = "", library: str = "") -> rules.CheckinOutcome:
    """Take ``item_barcode`` back at a kiosk of ``library`` (``rules.decide_checkin``): the loan closed, a late
    fine charged to the borrower (their group's ``fine_per_day``), the next hold put on the hold shelf when the
    route says so; the borrower's (and the hold's patron's) change recorded; all in one transaction."""
    item_barcode = item_barcode.strip()
    with write_transaction():
        earlier = _replayed(key, "checkin", item_barcode)
        if earlier is not None:
            return _outcome(earlier)
        _lock(items.Item, items.Item.barcode == item_barcode)
        loan = Loan.select().where((Loan.item_barcode == item_barcode) & Loan.still_out()).order_by(
            Loan.id.desc()).first()
        fine_per_day = items.group_fine_per_day(loan.user_group) if loan is not None else 0
        state = item_state(item_barcode)
        outcome = rules.decide_checkin(state, today, library, fine_per_day)  # type: ignore[arg-type]
        if state is None:
            outcome = rules.CheckinOutcome(item_barcode, False, "desk", None, "unknown_item")
        if outcome.returned and loan is not None:
            Loan.update(status="RETURNED", return_date=today).where(Loan.id == loan.id).execute()
            borrower = User.get_or_none(User.id == loan.user_id) if loan.user_id else None
            if borrower is not None:
                if outcome.late_fee:
                    Fee.create(user=borrower, loan=loan, fee_type="OVERDUEFINE", original_amount=outcome.late_fee,
                               balance=outcome.late_fee, title=loan.title,
                               comment=f"Returned {(today - items._day(loan.due_date)).days} days late")
                changes.record(borrower.primary_id)
            if outcome.route == "hold_shelf" and state is not None:
                _to_hold_shelf(item_barcode, rules.first_hold(state.holds))
        _remember(key, "checkin", item_barcode, _stored(outcome_answer(outcome), outcome.upstream_message))
    return outcome


def _to_hold_shelf(item_barcode: str, hold: rules.Hold | None) -> None:
    if hold is None or hold.status == "ON_HOLD_SHELF":
        return
    request = (Request.select().join(User, on=(Request.user == User.id))
               .where((Request.item_barcode == item_barcode) & (User.primary_id == hold.primary_id)
                      & Request.status.in_(items.ACTIVE_HOLDS)).order_by(Request.id).first())
    if request is not None:
        Request.update(status="ON_HOLD_SHELF").where(Request.id == request.id).execute()
        changes.record(hold.primary_id)


# --- a library system behind the central store decides (upstream/cache.py ``checkout_through``) -------------------

def checkout_through(user: User, item_barcode: str, today: dt.date, key: str, send) -> rules.CheckoutDecision:
    """The library system lends (``send()``: its decision, a lost answer already settled by its read-back); the
    store keeps a copy of the loan (kiosks show it before the next read of the account) and the answer under
    ``key``. The same key again gets the stored answer and nothing is sent."""
    item_barcode = item_barcode.strip()
    earlier = _replayed(key, "checkout", item_barcode)
    if earlier is not None:
        return _decision(earlier)
    decision = send()
    with write_transaction():
        earlier = _replayed(key, "checkout", item_barcode)  # (a replay that raced this one: its answer stands)
        if earlier is not None:
            return _decision(earlier)
        if decision.borrowed and not Loan.select().where((Loan.item_barcode == item_barcode) & (Loan.user == user.id)
                                                         & Loan.still_out()).exists():
            item = items.get_item(item_barcode)
            Loan.create(user=user, user_group=user.user_group_id, item_barcode=item_barcode,
                        title=(item.title if item else "") or decision.title or item_barcode,
                        author=item.author if item else "", call_number=item.call_number if item else "",
                        loan_date=today, due_date=decision.due_date or today)
            changes.record(user.primary_id)
        _remember(key, "checkout", item_barcode, _stored(decision_answer(decision), decision.upstream_message))
    return decision


def close_loans(item_barcode: str, today: dt.date) -> None:
    """Our copy of the item's loan closed after a return through the library system (fees come with the next read
    of the account), its borrower's change recorded for kiosks."""
    for loan in Loan.select().where((Loan.item_barcode == item_barcode) & Loan.still_out()):
        Loan.update(status="RETURNED", return_date=today).where(Loan.id == loan.id).execute()
        borrower = User.get_or_none(User.id == loan.user_id) if loan.user_id else None
        if borrower is not None:
            changes.record(borrower.primary_id)


def checkin_through(item_barcode: str, today: dt.date, key: str, send) -> rules.CheckinOutcome:
    """The library system takes the item back (``send()``); the store closes its copy of the loan (fees come with
    the next read of the account: none is charged here) and keeps the answer under ``key``."""
    item_barcode = item_barcode.strip()
    earlier = _replayed(key, "checkin", item_barcode)
    if earlier is not None:
        return _outcome(earlier)
    outcome = send()
    with write_transaction():
        earlier = _replayed(key, "checkin", item_barcode)
        if earlier is not None:
            return _outcome(earlier)
        if outcome.returned:
            close_loans(item_barcode, today)
        _remember(key, "checkin", item_barcode, _stored(outcome_answer(outcome), outcome.upstream_message))
    return outcome
