"""Reading patrons: find by identifier, and build the domain ``Account`` documents.

Accounts are built in batches (a handful of ``IN`` queries for any number of
users) so a kiosk's first sync of a large library stays fast.
"""
from __future__ import annotations

from collections import defaultdict

from domain import account as domain
from store.models import Block, Email, Fee, Identifier, Loan, Request, User, UserGroup

OPEN_REQUEST_STATUSES = ("ON_HOLD_SHELF", "IN_PROCESS", "NOT_STARTED")


def find_user(identifier: str) -> User | None:
    """The user holding an active identifier of any type, or with this primary id."""
    value = (identifier or "").strip()
    if not value:
        return None
    match = (
        User.select(User, UserGroup)
        .join(UserGroup)
        .switch(User)
        .join(Identifier)
        .where((Identifier.value == value) & (Identifier.status == "ACTIVE"))
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
    loans = _grouped(Loan.select().where(Loan.user.in_(ids) & (Loan.status != "RETURNED"))
                     .order_by(Loan.due_date, Loan.id))
    barcodes = [loan.item_barcode for rows in loans.values() for loan in rows]
    requested = defaultdict(set)  # item barcode -> users who requested it
    if barcodes:
        for item_barcode, user_id in Request.select(Request.item_barcode, Request.user).where(
                Request.item_barcode.in_(barcodes) & Request.status.in_(OPEN_REQUEST_STATUSES)).tuples():
            requested[item_barcode].add(user_id)
    requests = _grouped(Request.select().where(Request.user.in_(ids)).order_by(Request.request_date, Request.id))
    fees = _grouped(Fee.select().where(Fee.user.in_(ids) & (Fee.status != "CLOSED")).order_by(Fee.created, Fee.id))
    blocks = _grouped(Block.select().where(Block.user.in_(ids)).order_by(Block.id))
    emails = _grouped(Email.select().where(Email.user.in_(ids)).order_by(Email.preferred.desc(), Email.id))
    return [
        _account(user, loans[user.id], requested, requests[user.id], fees[user.id], blocks[user.id], emails[user.id])
        for user in users
    ]


def _account(user, loans, requested, requests, fees, blocks, emails) -> domain.Account:
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
        pin_hash=user.pin_hash,
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
    )


def identifiers_of(user_ids: list[int]) -> dict[int, list[dict]]:
    """Each user's identifiers (type, value, status), for the kiosks' lookup tables."""
    found = defaultdict(list)
    query = (Identifier.select(Identifier.user, Identifier.id_type, Identifier.value, Identifier.status)
             .where(Identifier.user.in_(user_ids)).order_by(Identifier.id).tuples())  # tuples: no model objects
    for user_id, id_type, value, status in query:
        found[user_id].append({"id_type": id_type, "value": value, "status": status})
    return found
