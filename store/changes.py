"""The change sequence: every write to a patron's account appends a row, in the
same transaction, so kiosks can pull what changed after a cursor."""
from __future__ import annotations

from store.bulk import insert_rows
from store.models import Change


def record(primary_id: str, kind: str = "upsert") -> None:
    Change.create(primary_id=primary_id, kind=kind)


def record_many(primary_ids, kind: str = "upsert") -> None:
    insert_rows(Change, [{"primary_id": pid, "kind": kind} for pid in primary_ids])


def latest_seq() -> int:
    last = Change.select(Change.seq).order_by(Change.seq.desc()).first()
    return last.seq if last else 0
