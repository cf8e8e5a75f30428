"""The change sequence: every write to a patron's account appends a row, in the
same transaction, so kiosks can pull what changed after a cursor.

On PostgreSQL, sequence values are handed out when a row is inserted but become
visible when its transaction commits, so a reader can see seq 11 before seq 10.
Writers therefore hold a *shared* transaction-level advisory lock from just
before they take a sequence value until they commit; ``safe_horizon`` briefly
takes the same lock *exclusively* (without waiting) and reads the highest
committed seq: every seq at or below it belongs to a finished transaction, so a
reader that serves only changes up to the horizon never skips one. SQLite has
one writer at a time, so commit order is seq order there (docs/sync.md).
"""
from __future__ import annotations

from library_kiosk.central.store.bulk import insert_rows
from library_kiosk.central.store.db import database, is_postgres
from library_kiosk.central.store.models import Change, Loan, User

SEQ_LOCK = 0x6B696F736B  # the advisory lock key of the change sequence ("kiosk")
UNLOCK = "unlock"  # a change's kind when staff cleared the patron's PIN lock: pages tell kiosks (store/sync.py)
_last_horizon = {"value": 0}


def _writer_lock() -> None:
    if is_postgres():
        database.execute_sql("SELECT pg_advisory_xact_lock_shared(%s)", (SEQ_LOCK,))


def record(primary_id: str, kind: str = "upsert") -> None:
    with database.atomic():
        _writer_lock()
        Change.create(primary_id=primary_id, kind=kind)


def record_many(primary_ids, kind: str = "upsert") -> None:
    rows = [{"primary_id": pid, "kind": kind} for pid in primary_ids]
    if not rows:
        return
    with database.atomic():
        _writer_lock()
        insert_rows(Change, rows)


def record_item_holders(item_barcodes, batch: int = 5000) -> list[str]:
    """Record an upsert for every patron with an open loan of one of ``item_barcodes``, and return their
    primary ids. A loan's ``requested_by_other`` in its holder's document depends on *other* patrons' requests
    for the item, so a write that creates, deletes, moves or changes requests (or deletes patrons, whose
    requests go with them) calls this, in its own transaction, with the item barcodes of those requests:
    one query (per ``batch`` items) and one insert. Empty barcodes (requests for no particular item) are
    ignored."""
    barcodes = sorted({code for code in item_barcodes if code})
    holders: set[str] = set()
    for start in range(0, len(barcodes), batch):
        holders.update(pid for (pid,) in User.select(User.primary_id).join(Loan, on=(Loan.user == User.id)).where(
            Loan.item_barcode.in_(barcodes[start:start + batch]) & Loan.still_out()).distinct().tuples())
    found = sorted(holders)
    record_many(found)
    return found


def latest_seq() -> int:
    last = Change.select(Change.seq).order_by(Change.seq.desc()).first()
    return last.seq if last else 0


def safe_horizon() -> int:
    """The highest seq below which every change is committed (or rolled back for good)."""
    if not is_postgres():
        return latest_seq()
    with database.atomic():
        got = database.execute_sql("SELECT pg_try_advisory_xact_lock(%s)", (SEQ_LOCK,)).fetchone()[0]
        if got:
            last = Change.select(Change.seq, Change.created).order_by(Change.seq.desc()).first()
            horizon = last.seq if last else 0
            if last is not None:
                _last_horizon.update(value=horizon, created=last.created)
            return horizon
    # A writer is between taking a seq and committing: serve up to the last horizon known safe, if it is still
    # the same change (the sequence may have been reset under this process: a restored or emptied database,
    # the tests' TRUNCATE ... RESTART IDENTITY); otherwise nothing new (0 is always safe).
    value, created = _last_horizon["value"], _last_horizon.get("created")
    if value and Change.select(Change.created).where(Change.seq == value).scalar() == created:
        return value
    return 0
