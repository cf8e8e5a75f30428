"""Reading patrons: find by identifier, and build the domain ``Account`` documents.

Accounts are built in batches (a handful of ``IN`` queries for any number of
users) so a kiosk's first sync of a large library stays fast.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal

import peewee as pw

from library_kiosk.central.store.db import database, is_postgres
from library_kiosk.central.store.items import Item
from library_kiosk.central.store.models import (
    ELSEWHERE,
    Block,
    Email,
    Fee,
    Identifier,
    Loan,
    Note,
    Request,
    UpstreamItem,
    User,
    UserGroup,
)
from library_kiosk.domain import account as domain
from library_kiosk.domain.account import mask_email
from library_kiosk.domain.offline_pin import STORED_BITS, truncated

OPEN_REQUEST_STATUSES = ("ON_HOLD_SHELF", "IN_PROCESS", "NOT_STARTED")


def find_user(identifier: str) -> User | None:
    """The user holding an active identifier of any type, or with this primary id. An identifier is matched as
    given, in upper case or in lower case (a reader may give a card serial number's hex either way; kiosks key
    identifiers in upper case, ``domain/identifier_keys.normalised``), each through the index."""
    value = (identifier or "").strip()
    if not value:
        return None
    match = (
        User.select(User, UserGroup)
        .join(UserGroup)
        .switch(User)
        .join(Identifier)
        .where(Identifier.value.in_(list(dict.fromkeys([value, value.upper(), value.lower()])))
               & (Identifier.status == "ACTIVE"))
        .first()
    )
    if match is None:
        match = User.select(User, UserGroup).join(UserGroup).where(User.primary_id == value).first()
    return match


def get_user(primary_id: str) -> User | None:
    return User.select(User, UserGroup).join(UserGroup).where(User.primary_id == primary_id).first()


def policy_of(group: UserGroup) -> domain.GroupPolicy:
    return domain.GroupPolicy(
        code=group.code,
        description=group.description,
        pin_required=group.pin_required,
        loan_limit=group.loan_limit,
        loan_period_days=group.loan_period_days,
        max_renewals=group.max_renewals,
        fine_limit=group.fine_limit,
        overdue_limit=group.overdue_limit,
    )


def _grouped(query, key="user"):
    """Rows of ``query`` (as light named tuples) grouped by the user they belong to."""
    groups = defaultdict(list)
    for row in query.namedtuples():
        groups[getattr(row, key)].append(row)
    return groups


def build_account(user: User) -> domain.Account:
    return build_accounts([user])[0]


def build_accounts(users: list[User]) -> list[domain.Account]:
    """The account documents of ``users`` (with their groups joined), in order."""
    if not users:
        return []
    ids = [user.id for user in users]
    loans = _grouped(Loan.select().where(Loan.user.in_(ids) & Loan.still_out())
                     .order_by(Loan.due_date, Loan.id))
    barcodes = [loan.item_barcode for rows in loans.values() for loan in rows]
    requested = defaultdict(set)  # item barcode -> users who requested it
    not_renewable: set[str] = set()  # item barcodes the upstream says cannot be renewed
    item_renewals: dict[str, int] = {}  # item barcode -> the renewals its item policy allows (items with one)
    if barcodes:
        item_renewals = item_renewal_limits(Item.select(Item.barcode, Item.renewals).where(
            Item.barcode.in_(barcodes) & Item.renewals.is_null(False)).tuples())
        for item_barcode, user_id in Request.select(Request.item_barcode, Request.user).where(
                Request.item_barcode.in_(barcodes) & Request.status.in_(OPEN_REQUEST_STATUSES)).tuples():
            requested[item_barcode].add(user_id)
        _upstream_says(UpstreamItem.select(UpstreamItem.item_barcode, UpstreamItem.requested_by_other,
                                           UpstreamItem.renewable).where(UpstreamItem.item_barcode.in_(barcodes))
                       .tuples(), requested, not_renewable)
    requests = _grouped(Request.select().where(Request.user.in_(ids)).order_by(Request.request_date, Request.id))
    fees = _grouped(Fee.select().where(Fee.user.in_(ids) & (Fee.status != "CLOSED")).order_by(Fee.created, Fee.id))
    blocks = _grouped(Block.select().where(Block.user.in_(ids)).order_by(Block.id))
    emails = _grouped(Email.select().where(Email.user.in_(ids)).order_by(Email.preferred.desc(), Email.id))
    notes = _grouped(Note.select(Note.user, Note.note_type, Note.note_text)
                     .where(Note.user.in_(ids) & (Note.user_viewable == True)).order_by(Note.id))  # noqa: E712
    return [
        _account(user, loans[user.id], requested, not_renewable, item_renewals, requests[user.id], fees[user.id],
                 blocks[user.id], emails[user.id], notes[user.id])
        for user in users
    ]


def _upstream_says(rows, requested: dict, not_renewable: set) -> None:
    """Fold in what the upstream says of loaned items (``UpstreamItem`` rows: barcode, requested, renewable)."""
    for item_barcode, requested_by_other, renewable in rows:
        if requested_by_other:
            requested[item_barcode].add(ELSEWHERE)
        if not renewable:
            not_renewable.add(item_barcode)


def item_renewal_limits(rows) -> dict[str, int]:
    """``{item barcode: renewals allowed}`` from (barcode, renewals) rows of items whose policy sets a limit.
    Loans of items the central store does not know, or whose policy leaves renewals to the group, get
    ``max_renewals`` None: the group's rule alone (domain/renewal.py ``renewal_limit``)."""
    return {barcode: int(renewals) for barcode, renewals in rows if renewals is not None}


def _account(user, loans, requested, not_renewable, item_renewals, requests, fees, blocks, emails,
             notes) -> domain.Account:
    return domain.Account(
        primary_id=user.primary_id,
        first_name=user.first_name,
        last_name=user.last_name,
        policy=policy_of(user.user_group),
        expiry_date=user.expiry_date,
        account_type=user.account_type,
        record_type=user.record_type,
        status=user.status,
        source_system=user.external_id,
        preferred_language=user.preferred_language,
        preferred_email=emails[0].email_address if emails else "",
        pin_check=user.pin_check,
        purge_date=user.purge_date,
        blocks=tuple(domain.Block(b.block_type, b.block_description, b.block_status, b.expiry_date) for b in blocks),
        loans=tuple(
            domain.Loan(
                loan_id=loan.id,
                item_barcode=loan.item_barcode,
                title=loan.title,
                author=loan.author,
                call_number=loan.call_number,
                loan_date=loan.loan_date,
                due_date=loan.due_date,
                renewals=loan.renewals,
                status=loan.status,
                requested_by_other=bool(requested.get(loan.item_barcode, set()) - {user.id}),
                renewable=loan.item_barcode not in not_renewable,
                max_renewals=item_renewals.get(loan.item_barcode),
            )
            for loan in loans
        ),
        requests=tuple(
            domain.Request(
                request_id=r.id,
                request_type=r.request_type,
                title=r.title,
                author=r.author,
                status=r.status,
                pickup_location=r.pickup_location,
                place_in_queue=r.place_in_queue,
                request_date=r.request_date,
                expiry_date=r.expiry_date,
            )
            for r in requests
        ),
        fees=tuple(
            domain.Fee(
                fee_id=f.id,
                fee_type=f.fee_type,
                original_amount=f.original_amount,
                balance=f.balance,
                status=f.status,
                created=f.created.date() if f.created else None,
                title=f.title,
                comment=f.comment,
            )
            for f in fees
        ),
        notes=tuple(domain.Note(n.note_type, n.note_text) for n in notes),  # only those the patron may see
    )


def identifiers_of(user_ids: list[int]) -> dict[int, list[dict]]:
    """Each user's identifiers (type, value, status), for the kiosks' lookup tables."""
    found = defaultdict(list)
    query = (Identifier.select(Identifier.user, Identifier.id_type, Identifier.value, Identifier.status)
             .where(Identifier.user.in_(user_ids)).order_by(Identifier.id).tuples())  # tuples: no model objects
    for user_id, id_type, value, status in query:
        found[user_id].append({"id_type": id_type, "value": value, "status": status})
    return found


# --- Account documents as JSON text, for the sync read model (store/documents.py) -------------------------
#
# ``documents`` builds the same dictionaries as ``build_accounts(...)[i].to_dict()`` (same keys, same order,
# same values: tests/store/test_documents.py checks it on both databases) straight from the driver's rows:
# one statement per table for a batch of patrons, no peewee query building per value, no model instances,
# no domain objects, and each document serialised once. peewee's own query building and row conversion
# were most of the cost of a page (about 0.2 ms a patron).

def _day(value):
    """A date column as ``date.isoformat()`` gives it (also the day of a datetime, as build_accounts does)."""
    if value is None:
        return None
    if type(value) is str:
        if len(value) >= 10 and value[4] == "-" and value[7] == "-":
            return value[:10]  # SQLite keeps ISO text: the day is its first ten characters
        parsed = pw.DateTimeField().python_value(value)
        return parsed.date().isoformat() if isinstance(parsed, dt.datetime) else _day_of(parsed)
    return _day_of(value)


def _day_of(value):
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return value.isoformat() if isinstance(value, dt.date) else value


def _money(value):
    """A decimal column as ``str(Decimal)`` of peewee's value (SQLite gives floats or ints back)."""
    if value is None:
        return None
    return str(value if isinstance(value, Decimal) else Decimal(str(value)))


def _policies() -> dict:
    return {
        code: {"code": code, "description": description, "pin_required": pin_required, "loan_limit": loan_limit,
               "loan_period_days": loan_period_days, "max_renewals": max_renewals, "fine_limit": _money(fine_limit),
               "overdue_limit": overdue_limit}
        for code, description, pin_required, loan_limit, loan_period_days, max_renewals, fine_limit, overdue_limit
        in UserGroup.select(UserGroup.code, UserGroup.description, UserGroup.pin_required, UserGroup.loan_limit,
                            UserGroup.loan_period_days, UserGroup.max_renewals, UserGroup.fine_limit,
                            UserGroup.overdue_limit).tuples()
    }


def _rows(model, names: str, where: str, values: list, tail: str = "") -> list[tuple]:
    """``SELECT names FROM model WHERE where IN values tail`` through the driver (``names``, ``where`` and
    ``tail`` are column SQL; ``values`` go as parameters, in one statement)."""
    if not values:
        return []
    table = model._meta.table_name
    if is_postgres():
        sql, params = f'SELECT {names} FROM "{table}" WHERE {where} = ANY(%s) {tail}', (list(values),)
    else:
        sql, params = f'SELECT {names} FROM "{table}" WHERE {where} IN ({",".join("?" * len(values))}) {tail}', values
    return database.execute_sql(sql, params).fetchall()


def _by_user(rows) -> dict:
    found = defaultdict(list)
    for row in rows:
        found[row[0]].append(row)
    return found


# What kiosks are sent of an account (the read model's documents, kiosk_document): the email masked, and the PIN's
# offline check value cut to ``[central] offline_pin_check_bits`` (configure_kiosk_documents, at start).
DEFAULT_PIN_CHECK_BITS = 6
_served = {"pin_check_bits": DEFAULT_PIN_CHECK_BITS}


def configure_kiosk_documents(pin_check_bits: int) -> int:
    """Set (and return) the bits of the offline PIN check kiosks are sent (0: none; patrons with a PIN are then
    not served offline). ``documents.configure`` also drops stored documents built with other bits."""
    _served["pin_check_bits"] = min(max(int(pin_check_bits), 0), STORED_BITS)
    return _served["pin_check_bits"]


def kiosk_document(document: dict) -> dict:
    """An account document (``Account.to_dict()``) as a kiosk may hold it (same keys, same order)."""
    document["preferred_email"] = mask_email(document.get("preferred_email", ""))
    document["pin_check"] = truncated(document.get("pin_check", ""), _served["pin_check_bits"])
    return document


def documents(primary_ids, batch: int = 2000) -> dict[str, tuple[str, str]]:
    """``{primary_id: (account document JSON, identifiers JSON)}`` of the patrons that exist (others are left
    out). The identifiers JSON is ``identifiers_of`` for that user; both are compact JSON (what a kiosk stores)."""
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    found = {}
    policies = None
    primary_ids = list(primary_ids)
    open_requests = ",".join(f"'{status}'" for status in OPEN_REQUEST_STATUSES)
    empty = ()
    bits = _served["pin_check_bits"]
    for start in range(0, len(primary_ids), batch):
        users = _rows(User, '"id", "primary_id", "first_name", "last_name", "user_group", "expiry_date", '
                            '"account_type", "record_type", "status", "external_id", "preferred_language", '
                            '"pin_check", "purge_date"', '"primary_id"', primary_ids[start:start + batch])
        if not users:
            continue
        if policies is None:
            policies = _policies()
        ids = [u[0] for u in users]
        loans = _by_user(_rows(Loan, '"user_id", "id", "item_barcode", "title", "author", "call_number", '
                                     '"loan_date", "due_date", "renewals", "status"', '"user_id"', ids,
                               "AND \"status\" <> 'RETURNED' ORDER BY \"due_date\", \"id\""))
        barcodes = list({row[2] for rows in loans.values() for row in rows})
        requested = defaultdict(set)  # item barcode -> users with an open request for it
        not_renewable: set[str] = set()
        item_renewals: dict[str, int] = {}
        for part in range(0, len(barcodes), 5000):
            item_renewals.update(item_renewal_limits(_rows(Item, '"barcode", "renewals"', '"barcode"',
                                                           barcodes[part:part + 5000], 'AND "renewals" IS NOT NULL')))
            for item_barcode, user_id in _rows(Request, '"item_barcode", "user_id"', '"item_barcode"',
                                               barcodes[part:part + 5000], f'AND "status" IN ({open_requests})'):
                requested[item_barcode].add(user_id)
            _upstream_says(_rows(UpstreamItem, '"item_barcode", "requested_by_other", "renewable"', '"item_barcode"',
                                 barcodes[part:part + 5000]), requested, not_renewable)
        requests = _by_user(_rows(Request, '"user_id", "id", "request_type", "title", "author", "status", '
                                           '"pickup_location", "place_in_queue", "request_date", "expiry_date"',
                                  '"user_id"', ids, 'ORDER BY "request_date", "id"'))
        fees = _by_user(_rows(Fee, '"user_id", "id", "fee_type", "original_amount", "balance", "status", '
                                   '"created", "title", "comment"', '"user_id"', ids,
                              "AND \"status\" <> 'CLOSED' ORDER BY \"created\", \"id\""))
        blocks = _by_user(_rows(Block, '"user_id", "block_type", "block_description", "block_status", '
                                       '"expiry_date"', '"user_id"', ids, 'ORDER BY "id"'))
        emails = {}
        for user_id, address in _rows(Email, '"user_id", "email_address"', '"user_id"', ids,
                                      'ORDER BY "preferred" DESC, "id"'):
            emails.setdefault(user_id, address)
        identifiers = _by_user(_rows(Identifier, '"user_id", "id_type", "value", "status"', '"user_id"', ids,
                                     'ORDER BY "id"'))
        notes = _by_user(_rows(Note, '"user_id", "note_type", "note_text"', '"user_id"', ids,
                               'AND "user_viewable" ORDER BY "id"'))  # only those the patron may see
        for (user_id, primary_id, first_name, last_name, group, expiry_date, account_type, record_type, status,
             external_id, language, pin_check, purge_date) in users:
            policy = policies.get(group)
            if policy is None:  # a group created after the policies were read
                policies = _policies()
                policy = policies[group]
            document = {
                "primary_id": primary_id, "first_name": first_name, "last_name": last_name, "policy": policy,
                "expiry_date": _day(expiry_date), "account_type": account_type, "record_type": record_type,
                "status": status, "source_system": external_id, "preferred_language": language,
                "preferred_email": mask_email(emails.get(user_id, "")), "pin_check": truncated(pin_check, bits),
                "purge_date": _day(purge_date),
                "blocks": [{"block_type": b[1], "description": b[2], "status": b[3], "expiry_date": _day(b[4])}
                           for b in blocks.get(user_id, empty)],
                "loans": [{"loan_id": l[1], "item_barcode": l[2], "title": l[3], "author": l[4], "call_number": l[5],
                           "loan_date": _day(l[6]), "due_date": _day(l[7]), "renewals": l[8], "status": l[9],
                           "requested_by_other": bool(requested.get(l[2], empty) and requested[l[2]] - {user_id}),
                           "renewable": l[2] not in not_renewable, "max_renewals": item_renewals.get(l[2])}
                          for l in loans.get(user_id, empty)],
                "requests": [{"request_id": r[1], "request_type": r[2], "title": r[3], "author": r[4],
                              "status": r[5], "pickup_location": r[6], "place_in_queue": r[7],
                              "request_date": _day(r[8]), "expiry_date": _day(r[9])}
                             for r in requests.get(user_id, empty)],
                "fees": [{"fee_id": f[1], "fee_type": f[2], "original_amount": _money(f[3]), "balance": _money(f[4]),
                          "status": f[5], "created": _day(f[6]), "title": f[7], "comment": f[8]}
                         for f in fees.get(user_id, empty)],
                "notes": [{"note_type": n[1], "text": n[2]} for n in notes.get(user_id, empty)],
            }
            found[primary_id] = (dumps(document), dumps([{"id_type": i[1], "value": i[2], "status": i[3]}
                                                         for i in identifiers.get(user_id, empty)]))
    return found
