"""The central store as a cache of the upstream library system.

``refresh`` reads a patron's account from the upstream when the patron taps and
upserts it into our own models (User, Identifier, Loan, Request, Fee, Block, the notes the patron sees),
recording a change so kiosks pull it as they pull any other change. ``forward``
replaces the local renewal rules (``renewal_forward``, passed to ``circulation.renew`` by the central app): the upstream
decides and our loan rows follow. With the upstream down, the central store
answers from its own rows, decides renewals by our own rules, and queues the ones
it granted in ``PendingRenewal``; ``replay`` sends each of them upstream once. Borrowing and giving back an
item go through ``checkout_through`` / ``checkin_through``: a lost answer is read back, never sent again blindly;
one that cannot be read back is settled later (``settle_circulation.py``).
"""
from __future__ import annotations

import datetime as dt
import logging

import peewee as pw

from library_kiosk.central.store import changes, circulation, limits
from library_kiosk.central.store.accounts import OPEN_REQUEST_STATUSES, build_account, find_user, get_user
from library_kiosk.central.store.db import database
from library_kiosk.central.store.models import (
    Block,
    Fee,
    Identifier,
    Loan,
    Note,
    Request,
    UpstreamItem,
    User,
    UserGroup,
    _now,
)
from library_kiosk.central.upstream.base import (
    Fetched,
    LoanRef,
    OutcomeUnknown,
    Upstream,
    UpstreamError,
    UpstreamUnavailable,
)
from library_kiosk.central.upstream.models import (
    PendingCirculation,
    PendingRenewal,
    UpstreamLoan,
    UpstreamPatron,
    create_tables,
)
from library_kiosk.domain.account import Account
from library_kiosk.domain.checkout import CheckinOutcome, CheckoutDecision
from library_kiosk.domain.renewal import RenewalDecision, decide

log = logging.getLogger(__name__)
UPSTREAM_SEGMENT = "External"  # rows the upstream owns; staff-made (Internal) rows are kept


def renewal_forward(upstream: Upstream, fresh_seconds: float = 30.0) -> circulation.Forward | None:
    """What ``circulation.renew`` is given so that ``upstream`` decides renewals (None for ``kind = "local"``:
    the central store's own rules). Creates the upstream's cache tables."""
    if upstream.kind == "local":
        return None
    with database.connection_context():
        create_tables(database)
    upstream.fresh_seconds = fresh_seconds
    return lambda user, loan_ids, today: forward(upstream, user, loan_ids, today)


# ---- reading: upstream account -> our rows ----------------------------------------------

def _group(account: Account) -> UserGroup:
    policy = account.policy
    group = UserGroup.get_or_none(UserGroup.code == policy.code)
    if group is None:
        group = UserGroup.create(code=policy.code, description=policy.description or policy.code,
                                 pin_required=policy.pin_required, loan_limit=policy.loan_limit,
                                 loan_period_days=policy.loan_period_days, max_renewals=policy.max_renewals,
                                 fine_limit=policy.fine_limit, overdue_limit=policy.overdue_limit)
    return group


def _snapshot(user: User | None) -> dict | None:
    if user is None:
        return None
    data = build_account(get_user(user.primary_id)).to_dict()
    for key in ("loans", "requests", "fees"):
        for row in data[key]:
            row.pop("loan_id", None), row.pop("request_id", None), row.pop("fee_id", None)
    return data


def store_account(fetched: Fetched, today: dt.date) -> User:
    """Upsert the upstream's account into our models; records a change when anything changed. A record whose
    names or identifiers break the store's limits (store/limits.py) is refused whole: ``UpstreamError``
    (``invalid_upstream_record``, the API answers 502 naming the field and its limit), nothing written."""
    account = fetched.account
    _check_limits(fetched)
    with database.atomic():
        group = _group(account)
        user = get_user(account.primary_id)
        before = _snapshot(user)
        fields = dict(first_name=account.first_name, last_name=account.last_name, user_group=group,
                      expiry_date=account.expiry_date, purge_date=account.purge_date,
                      account_type=account.account_type, record_type=account.record_type, status=account.status,
                      external_id=account.source_system, preferred_language=account.preferred_language or "en",
                      updated=_now())
        if user is None:
            user = User.create(primary_id=account.primary_id, **fields)
        else:
            User.update(**fields).where(User.id == user.id).execute()
        _store_identifiers(user, fetched.identifiers)
        _store_loans(user, account, fetched.upstream_loan_ids, today)
        items_before = _requested_items(user)
        Request.delete().where(Request.user == user).execute()
        for r in account.requests:
            Request.create(user=user, request_type=r.request_type, title=r.title[:300], author=r.author[:200],
                           status=r.status, pickup_location=r.pickup_location[:100], place_in_queue=r.place_in_queue,
                           request_date=r.request_date, expiry_date=r.expiry_date)
        # Other patrons' loans of the items requested (or no longer requested) show it: their documents change too.
        changes.record_item_holders(items_before ^ _requested_items(user))
        Fee.delete().where(Fee.user == user).execute()
        for f in account.fees:
            created = dt.datetime.combine(f.created, dt.time()) if f.created else _now()
            Fee.create(user=user, fee_type=f.fee_type[:40], original_amount=f.original_amount, balance=f.balance,
                       status=f.status, title=f.title[:300], comment=f.comment[:300], created=created)
        Block.delete().where((Block.user == user) & (Block.segment_type == UPSTREAM_SEGMENT)).execute()
        for b in account.blocks:
            Block.create(user=user, block_type=b.block_type[:40], block_description=b.description[:300],
                         block_status=b.status, expiry_date=b.expiry_date, segment_type=UPSTREAM_SEGMENT)
        # the notes the patron may see (the upstream's account carries no others): staff's and hidden ones stay
        Note.delete().where((Note.user == user) & (Note.segment_type == UPSTREAM_SEGMENT)
                            & Note.user_viewable).execute()
        for n in account.notes:
            Note.create(user=user, note_type=n.note_type[:20], note_text=n.text, user_viewable=True,
                        segment_type=UPSTREAM_SEGMENT)
        (UpstreamPatron.insert(primary_id=account.primary_id, refreshed=_now())
         .on_conflict(conflict_target=[UpstreamPatron.primary_id], preserve=[UpstreamPatron.refreshed]).execute())
        if _snapshot(user) != before:
            changes.record(account.primary_id)
    return get_user(account.primary_id)


def _check_limits(fetched: Fetched) -> None:
    account = fetched.account
    problem = limits.first_problem("User", {"primary_id": account.primary_id, "first_name": account.first_name,
                                            "last_name": account.last_name, "external_id": account.source_system})
    for id_type, value in fetched.identifiers:
        problem = problem or limits.first_problem("Identifier", {"id_type": id_type, "value": value or ""})
    if problem:
        raise UpstreamError("invalid_upstream_record", f"The library system's record of this patron cannot be "
                                                       f"kept here, so nothing was saved: {problem}")


def _requested_items(user: User) -> set[str]:
    """The item barcodes of the user's open requests (what other patrons' loans show as requested)."""
    return {code for (code,) in Request.select(Request.item_barcode).where(
        (Request.user == user) & (Request.item_barcode != "") & Request.status.in_(OPEN_REQUEST_STATUSES)).tuples()}


def _store_identifiers(user: User, identifiers) -> None:
    wanted = {(id_type, value) for id_type, value in identifiers if value}
    for row in Identifier.select().where((Identifier.user == user) & (Identifier.segment_type == UPSTREAM_SEGMENT)):
        if (row.id_type, row.value) not in wanted:
            row.delete_instance()
    for id_type, value in wanted:
        existing = Identifier.get_or_none((Identifier.id_type == id_type) & (Identifier.value == value))
        if existing is None:
            Identifier.create(user=user, id_type=id_type, value=value, segment_type=UPSTREAM_SEGMENT)
        elif existing.user_id != user.id:  # the upstream moved it: it owns identifiers
            Identifier.update(user=user, status="ACTIVE").where(Identifier.id == existing.id).execute()


def _store_loans(user: User, account: Account, upstream_ids: dict, today: dt.date) -> None:
    open_rows = {row.item_barcode: row for row in Loan.select().where(
        (Loan.user == user) & Loan.still_out())}
    for loan in account.loans:
        values = dict(title=loan.title[:300], author=loan.author[:200], call_number=loan.call_number[:60],
                      loan_date=loan.loan_date, due_date=loan.due_date, renewals=loan.renewals, status=loan.status)
        row = open_rows.pop(loan.item_barcode, None)
        if row is None:
            row = Loan.create(user=user, user_group=account.policy.code, item_barcode=loan.item_barcode, **values)
        else:
            Loan.update(**values).where(Loan.id == row.id).execute()
        upstream_id = upstream_ids.get(loan.loan_id) or ""
        if upstream_id:
            (UpstreamLoan.insert(loan=row.id, upstream_id=upstream_id)
             .on_conflict(conflict_target=[UpstreamLoan.loan], preserve=[UpstreamLoan.upstream_id]).execute())
    for row in open_rows.values():  # returned upstream since we last looked
        Loan.update(status="RETURNED", return_date=today).where(Loan.id == row.id).execute()
    _store_upstream_items(account, [row.item_barcode for row in open_rows.values()])


def _store_upstream_items(account: Account, returned: list[str]) -> None:
    """What the upstream says of each loan that no row here can tell (requested by another patron, not
    renewable), kept for the documents (store.accounts); loans with nothing to say, or returned, lose theirs."""
    said = [{"item_barcode": loan.item_barcode, "requested_by_other": loan.requested_by_other,
             "renewable": loan.renewable} for loan in account.loans if loan.requested_by_other or not loan.renewable]
    plain = [loan.item_barcode for loan in account.loans if not (loan.requested_by_other or not loan.renewable)]
    if plain + returned:
        UpstreamItem.delete().where(UpstreamItem.item_barcode.in_(plain + returned)).execute()
    if said:
        (UpstreamItem.insert_many(said).on_conflict(
            conflict_target=[UpstreamItem.item_barcode],
            preserve=[UpstreamItem.requested_by_other, UpstreamItem.renewable]).execute())


def is_fresh(primary_id: str, seconds: float) -> bool:
    if seconds <= 0:
        return False
    row = UpstreamPatron.get_or_none(UpstreamPatron.primary_id == primary_id)
    return row is not None and (_now() - row.refreshed).total_seconds() < seconds


def read_at(primary_id: str) -> str | None:
    """When the patron was last read from the upstream (ISO, UTC, ``Z``), or None if never."""
    row = UpstreamPatron.get_or_none(UpstreamPatron.primary_id == primary_id)
    return row.refreshed.replace(microsecond=0).isoformat() + "Z" if row is not None else None


def refresh(upstream: Upstream, identifier: str, today: dt.date, force: bool = False) -> tuple[User | None, str]:
    """Bring the patron holding ``identifier`` up to date from the upstream.

    Returns (user, source): source is "upstream" (read now), "cache" (read within
    ``fresh_seconds``, not read again) or "offline" (upstream down: our own rows).
    """
    if upstream.kind == "local":
        return find_user(identifier), "local"
    local = find_user(identifier)
    if local is not None and not force and is_fresh(local.primary_id, getattr(upstream, "fresh_seconds", 0)):
        return local, "cache"
    try:
        if local is not None:
            replay(upstream, today, local.primary_id)
        fetched = upstream.fetch(identifier, today)
    except UpstreamUnavailable as exc:
        log.warning("upstream unavailable, serving from the central store: %s", exc.message)
        return local, "offline"
    if fetched is None:
        return None, "upstream"
    user = store_account(fetched, today)
    if local is None or local.primary_id != user.primary_id:
        replay(upstream, today, user.primary_id)
    return user, "upstream"


# ---- renewing: through the upstream, or queued while it is down ----------------------------

def _loan_refs(user: User, loan_ids: list[int] | None) -> tuple[list[LoanRef], list[int]]:
    rows = list(Loan.select(Loan, UpstreamLoan.upstream_id.alias("upstream_id"))
                .join(UpstreamLoan, on=(UpstreamLoan.loan == Loan.id), join_type=pw.JOIN.LEFT_OUTER)
                .where((Loan.user == user) & Loan.still_out()).order_by(Loan.due_date, Loan.id).objects())
    by_id = {row.id: row for row in rows}
    wanted = list(by_id) if loan_ids is None else loan_ids
    refs = [LoanRef(i, by_id[i].item_barcode, by_id[i].upstream_id or "") for i in wanted if i in by_id]
    return refs, [i for i in wanted if i not in by_id]


def _apply(user: User, decisions: list[RenewalDecision]) -> None:
    renewed = [d for d in decisions if d.renewed]
    for d in renewed:
        Loan.update(due_date=d.new_due_date, renewals=Loan.renewals + 1).where(Loan.id == d.loan_id).execute()
    if renewed:
        changes.record(user.primary_id)


# refusals our cached rows settle without asking: the upstream would refuse these too
KNOWN_REFUSALS = ("lost", "claimed_returned", "limit", "requested", "not_renewable", "item_no_renewals")


def _known_refusals(user: User, refs: list[LoanRef], today: dt.date) -> dict[int, RenewalDecision]:
    account = build_account(get_user(user.primary_id))
    found = {}
    for ref in refs:
        loan = account.loan(ref.loan_id)
        decision = decide(account, loan, today) if loan is not None else None
        if decision is not None and not decision.renewed and decision.reason in KNOWN_REFUSALS:
            found[ref.loan_id] = decision
    return found


def forward(upstream: Upstream, user: User, loan_ids: list[int] | None, today: dt.date) -> list[RenewalDecision]:
    """Renew through the upstream; one decision per requested loan id, in order.

    A back end that renews loan by loan (``skip_known_refusals``: Alma) is not asked about loans our
    cached rows already refuse (lost, claimed returned, at the renewal limit, requested by another
    patron); those decisions are reported with their reasons all the same."""
    refs, unknown = _loan_refs(user, loan_ids)
    decisions: dict[int, RenewalDecision] = {i: RenewalDecision(i, False, None, "unknown_loan") for i in unknown}
    all_refs = refs
    if refs and getattr(upstream, "skip_known_refusals", False):
        known = _known_refusals(user, refs, today)
        decisions.update(known)
        refs = [ref for ref in refs if ref.loan_id not in known]
    if refs:
        due_before: dict[int, dt.date] = {}
        try:
            replay(upstream, today, user.primary_id)
            due_before = _due_dates(refs)  # after the replay: what a read-back compares with
            if loan_ids is None and upstream.capabilities().renew_all:
                got = upstream.renew_all(user.primary_id, refs, today)
            else:
                got = upstream.renew(user.primary_id, refs, today)
        except OutcomeUnknown as exc:  # sent, answer lost: find out what the library system did
            log.warning("renewal outcome unknown for %s, reading back: %s", user.primary_id, exc.message)
            got = reconcile(upstream, user, refs, due_before, today)  # (it keeps what it finds)
        except UpstreamUnavailable:
            got = _renew_offline(user, refs, today)
        else:
            with database.atomic():
                _apply(user, got)
        decisions.update({d.loan_id: d for d in got})
    order = [ref.loan_id for ref in all_refs] + unknown if loan_ids is None else loan_ids
    return [decisions[i] for i in order]


def _due_dates(refs: list[LoanRef]) -> dict[int, dt.date]:
    """Our loans' due dates now, before a renewal is sent (what a read-back compares with)."""
    ids = [ref.loan_id for ref in refs]
    return {row.id: row.due_date for row in Loan.select(Loan.id, Loan.due_date).where(Loan.id.in_(ids))}


def _renewed_upstream(fetched: Fetched, refs: list[LoanRef], due_before: dict) -> tuple[list, list]:
    """From a read-back: the decisions for loans whose due date moved past what it was (renewed), and the refs
    of those it did not (not renewed, so safe to send again)."""
    due_now = {loan.item_barcode: loan.due_date for loan in fetched.account.loans}
    renewed, not_renewed = [], []
    for ref in refs:
        due, before = due_now.get(ref.item_barcode), due_before.get(ref.loan_id)
        if due is not None and before is not None and due > before:
            renewed.append(RenewalDecision(ref.loan_id, True, due, ""))
        else:
            not_renewed.append(ref)
    return renewed, not_renewed


def reconcile(upstream: Upstream, user: User, refs: list[LoanRef], due_before: dict,
              today: dt.date) -> list[RenewalDecision]:
    """Renewals were sent and the answer was lost or garbled (``OutcomeUnknown``): read the patron back from the
    library system, keep what it says (so both agree), take the loans whose due date moved as renewed, and send
    the others once more (known not done, so they cannot be renewed twice). If the library system cannot be
    read, or the second answer is lost too, the loans are marked "to be checked" (``PendingRenewal`` status
    ``to_check``, and a conflict staff see) and answered ``unconfirmed``; ``replay`` settles them later by
    reading back again. Never a 500, never an outcome left unknown without a trace."""
    try:
        fetched = upstream.fetch(user.primary_id, today)
    except UpstreamError as exc:
        log.warning("renewal read-back failed for %s: %s", user.primary_id, exc.message)
        return _to_check(user, refs, due_before, f"the answer was lost and the read-back failed: {exc.message}")
    if fetched is None:
        return _to_check(user, refs, due_before, "the answer was lost and the patron could not be read back")
    renewed, again = _renewed_upstream(fetched, refs, due_before)
    with database.atomic():
        store_account(fetched, today)  # the due dates as the library system has them
        _apply(user, renewed)  # (and the renewal counted)
    decisions = {d.loan_id: d for d in renewed}
    if again:
        try:
            sent = upstream.renew(user.primary_id, again, today)
        except OutcomeUnknown as exc:
            sent = _to_check(user, again, due_before, exc.message)
        except UpstreamUnavailable:
            sent = _renew_offline(user, again, today)  # (it keeps what it decides)
        else:
            with database.atomic():
                _apply(user, sent)
        decisions.update({d.loan_id: d for d in sent})
    return [decisions[ref.loan_id] for ref in refs]


def _to_check(user: User, refs: list[LoanRef], due_before: dict, why: str) -> list[RenewalDecision]:
    """Mark renewals whose outcome is unknown: kept for ``replay`` and shown to staff as a conflict."""
    from library_kiosk.central.store.devices import SyncConflict

    titles = {row.id: row.title for row in Loan.select(Loan.id, Loan.title).where(
        Loan.id.in_([ref.loan_id for ref in refs]))}
    with database.atomic():
        for ref in refs:
            PendingRenewal.create(primary_id=user.primary_id, loan_id=ref.loan_id, item_barcode=ref.item_barcode,
                                  upstream_id=ref.upstream_id, status="to_check",
                                  due_before=due_before.get(ref.loan_id), reason="outcome_unknown")
            SyncConflict.create(device="central store", op_key=f"to-check-{ref.loan_id}", op_type="renew",
                                primary_id=user.primary_id, reason="renewal_to_be_checked",
                                detail=f"loan {ref.loan_id} ({titles.get(ref.loan_id, ref.item_barcode)}): "
                                       f"{why[:300]}; it will be checked against the library system and settled")
    return [RenewalDecision(ref.loan_id, False, None, "unconfirmed") for ref in refs]


def _renew_offline(user: User, refs: list[LoanRef], today: dt.date) -> list[RenewalDecision]:
    """Our own rules on our own rows; granted renewals are written and queued for the upstream."""
    with database.atomic():
        account = build_account(get_user(user.primary_id))
        decisions = []
        for ref in refs:
            loan = account.loan(ref.loan_id)
            decision = decide(account, loan, today)
            decisions.append(decision)
            if decision.renewed:
                PendingRenewal.create(primary_id=user.primary_id, loan_id=ref.loan_id, item_barcode=ref.item_barcode,
                                      upstream_id=ref.upstream_id, due_before=loan.due_date)
        _apply(user, decisions)
    return decisions


def replay(upstream: Upstream, today: dt.date, primary_id: str | None = None) -> dict:
    """Settle renewals whose outcome was unknown (``to_check``: read back), then send queued renewals upstream,
    each exactly once; stops at the first sign the upstream is down."""
    counts = {"sent": 0, "renewed": 0, "refused": 0, "checked": 0}
    try:
        counts["checked"] = check_unknown(upstream, today, primary_id)
    except UpstreamUnavailable:
        return counts
    query = PendingRenewal.select().where(PendingRenewal.status == "pending").order_by(PendingRenewal.id)
    if primary_id is not None:
        query = query.where(PendingRenewal.primary_id == primary_id)
    touched = set()
    for row in list(query):
        claimed = PendingRenewal.update(status="sending", sent=_now()).where(
            (PendingRenewal.id == row.id) & (PendingRenewal.status == "pending")).execute()
        if claimed != 1:
            continue  # another worker has it
        try:
            decision = _send_queued(upstream, row, today)
        except UpstreamUnavailable:
            PendingRenewal.update(status="pending").where(PendingRenewal.id == row.id).execute()
            break
        if decision is None:
            continue
        counts["sent"] += 1
        counts["renewed" if decision.renewed else "refused"] += 1
        PendingRenewal.update(status="done" if decision.renewed else "refused", reason=decision.reason).where(
            PendingRenewal.id == row.id).execute()
        if decision.renewed and decision.new_due_date:
            Loan.update(due_date=decision.new_due_date).where(Loan.id == row.loan_id).execute()
        touched.add(row.primary_id)
    for pid in touched:
        if pid != primary_id:  # the caller reads this patron's account anyway
            try:
                fetched = upstream.fetch(pid, today)
            except UpstreamUnavailable:
                break
            if fetched is not None:
                store_account(fetched, today)
    return counts


def _send_queued(upstream: Upstream, row: PendingRenewal, today: dt.date) -> RenewalDecision | None:
    """Send one queued renewal; None when its answer was lost (then ``to_check``: read back next time, never sent
    again blindly). ``UpstreamUnavailable`` propagates (not sent)."""
    try:
        [decision] = upstream.renew(row.primary_id, [LoanRef(row.loan_id, row.item_barcode, row.upstream_id)], today)
    except OutcomeUnknown:
        # the library system's due date before: recorded when the renewal was queued (our row has moved since)
        due = row.due_before or Loan.select(Loan.due_date).where(Loan.id == row.loan_id).scalar()
        PendingRenewal.update(status="to_check", reason="outcome_unknown", due_before=due).where(
            PendingRenewal.id == row.id).execute()
        return None
    except UpstreamUnavailable:
        raise
    except UpstreamError as exc:
        return RenewalDecision(row.loan_id, False, None, exc.code)
    return decision


def check_unknown(upstream: Upstream, today: dt.date, primary_id: str | None = None) -> int:
    """Read back each patron with renewals ``to_check``: a due date that moved past the one before means the
    library system renewed (``done``, our loan follows); otherwise it did not, and the renewal is queued to be
    sent (``pending``), which is now safe. The staff conflict is marked dealt with. Returns how many were
    settled; ``UpstreamUnavailable`` propagates (try again later)."""
    from library_kiosk.central.store.devices import SyncConflict, SyncConflictDealt

    query = PendingRenewal.select().where(PendingRenewal.status == "to_check").order_by(PendingRenewal.id)
    if primary_id is not None:
        query = query.where(PendingRenewal.primary_id == primary_id)
    rows: dict[str, list] = {}
    for row in query:
        rows.setdefault(row.primary_id, []).append(row)
    settled = 0
    for pid, found in rows.items():
        try:
            fetched = upstream.fetch(pid, today)
        except UpstreamUnavailable:
            raise
        except UpstreamError as exc:
            log.warning("renewals to check for %s not read back: %s", pid, exc.message)
            continue
        if fetched is None:
            continue
        refs = [LoanRef(row.loan_id, row.item_barcode, row.upstream_id) for row in found]
        renewed, _again = _renewed_upstream(fetched, refs, {row.loan_id: row.due_before for row in found})
        done = {d.loan_id for d in renewed}
        with database.atomic():
            store_account(fetched, today)
            for row in found:
                status = "done" if row.loan_id in done else "pending"
                PendingRenewal.update(status=status, reason="checked").where(PendingRenewal.id == row.id).execute()
                for conflict in SyncConflict.select().where(
                        (SyncConflict.op_key == f"to-check-{row.loan_id}")
                        & (SyncConflict.reason == "renewal_to_be_checked")):
                    SyncConflictDealt.get_or_create(conflict=conflict, defaults={
                        "operator": "checked: renewed" if status == "done" else "checked: not renewed, sent again"})
            if done:
                changes.record(pid)
        settled += len(found)
    return settled


def pending_count() -> int:
    return PendingRenewal.select().where(PendingRenewal.status == "pending").count()


# ---- borrowing and giving back: a lost answer is read back, never sent again blindly ------------------

def checkout_through(upstream: Upstream, primary_id: str, item_barcode: str, today: dt.date,
                     key: str) -> CheckoutDecision:
    """Lend the item through the upstream. A lost or garbled answer (``OutcomeUnknown``) is settled by
    ``reconcile_checkout``; ``UpstreamUnavailable`` and refusals propagate as the back end raises them (nothing
    was lent). Our rows are the caller's to write from the decision, as after any checkout."""
    try:
        return upstream.checkout(primary_id, item_barcode, today, key)
    except OutcomeUnknown as exc:
        log.warning("checkout outcome unknown for %s, reading back: %s", primary_id, exc.message)
        return reconcile_checkout(upstream, primary_id, item_barcode, today, key)


def reconcile_checkout(upstream: Upstream, primary_id: str, item_barcode: str, today: dt.date,
                       key: str) -> CheckoutDecision:
    """A checkout was sent and its answer lost: read the patron's loans back from the library system. The item
    among them: lent (with the due date the library system holds). Not among them: known not lent, so it is
    sent once more (a refusal then comes back with its real reason). If the read-back fails, or the second
    answer is lost too, the patron is told ``unconfirmed`` and staff see a conflict (``checkout_to_be_checked``,
    keyed by ``key``), settled in the background (``settle_circulation.py``). (An item the patron already had on
    loan reads back as lent: it is theirs either way.)"""
    try:
        fetched = upstream.fetch(primary_id, today)
    except UpstreamError as exc:
        log.warning("checkout read-back failed for %s: %s", primary_id, exc.message)
        return _checkout_to_check(primary_id, item_barcode, key, f"the read-back failed: {exc.message}")
    if fetched is None:
        return _checkout_to_check(primary_id, item_barcode, key, "the patron could not be read back")
    loan = next((loan for loan in fetched.account.loans if loan.item_barcode == item_barcode), None)
    if loan is not None:
        return CheckoutDecision(item_barcode, True, loan.due_date, "", loan.title)
    try:
        return upstream.checkout(primary_id, item_barcode, today, key)
    except OutcomeUnknown as exc:
        return _checkout_to_check(primary_id, item_barcode, key, f"sent again, and that answer was lost too: "
                                                                  f"{exc.message}")


def checkin_through(upstream: Upstream, item_barcode: str, today: dt.date, key: str,
                    library: str = "") -> CheckinOutcome:
    """Take the item back through the upstream; a lost or garbled answer is settled by ``reconcile_checkin``."""
    try:
        return upstream.checkin(item_barcode, today, key, library)
    except OutcomeUnknown as exc:
        log.warning("checkin outcome unknown for %s, reading back: %s", item_barcode, exc.message)
        return reconcile_checkin(upstream, item_barcode, today, key, library)


def reconcile_checkin(upstream: Upstream, item_barcode: str, today: dt.date, key: str,
                      library: str = "") -> CheckinOutcome:
    """A checkin was sent and its answer lost: ask the library system whether the item is still on loan
    (``Upstream.item_on_loan``). Not on loan: returned; where it goes next was in the lost answer, so the patron is
    sent to the desk. Still on loan: known not returned, sent once more. Unknown to the library system:
    ``unknown_item``. If the read-back fails, or the second answer is lost too, the item (which is back in the
    library) goes to the desk and staff see a conflict (``checkin_to_be_checked``, keyed by ``key``), settled in the
    background (``settle_circulation.py``)."""
    try:
        on_loan = upstream.item_on_loan(item_barcode, today)
    except UpstreamError as exc:
        log.warning("checkin read-back failed for %s: %s", item_barcode, exc.message)
        return _checkin_to_check(item_barcode, key, f"the read-back failed: {exc.message}", library)
    if on_loan is None:
        return CheckinOutcome(item_barcode, False, "desk", None, "unknown_item")
    if not on_loan:
        return CheckinOutcome(item_barcode, True, "desk")
    try:
        return upstream.checkin(item_barcode, today, key, library)
    except OutcomeUnknown as exc:
        return _checkin_to_check(item_barcode, key, f"sent again, and that answer was lost too: {exc.message}",
                                 library)


def _circulation_conflict(op_type: str, key: str, primary_id: str, item_barcode: str, reason: str, detail: str,
                          library: str = "") -> None:
    """The conflict staff see, and what ``settle_circulation.settle`` needs to check it later (``PendingCirculation``;
    the connector's tables created here if this process has not: the station's desk lends too)."""
    from library_kiosk.central.store.devices import SyncConflict

    create_tables(database)
    with database.atomic():
        conflict = SyncConflict.create(device="central store", op_key=(key or f"{op_type}-unknown")[:80],
                                       op_type=op_type, primary_id=primary_id, reason=reason, detail=detail)
        PendingCirculation.create(op_type=op_type, key=key[:160], primary_id=primary_id, item_barcode=item_barcode,
                                  library=library[:40], conflict=conflict.id)


def _checkout_to_check(primary_id: str, item_barcode: str, key: str, why: str) -> CheckoutDecision:
    _circulation_conflict("checkout", key, primary_id, item_barcode, "checkout_to_be_checked",
                          f"item {item_barcode}: the checkout's answer was lost and {why[:300]}; it will be checked "
                          f"against the library system and settled (never lent again from here)")
    return CheckoutDecision(item_barcode, False, None, "unconfirmed")


def _checkin_to_check(item_barcode: str, key: str, why: str, library: str = "") -> CheckinOutcome:
    _circulation_conflict("checkin", key, "", item_barcode, "checkin_to_be_checked",
                          f"item {item_barcode}: the return's answer was lost and {why[:300]}; the item was sent "
                          f"to the desk: it will be checked against the library system and settled",
                          library)
    return CheckinOutcome(item_barcode, True, "desk")
