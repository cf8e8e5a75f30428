"""The connector's own tables in the central database.

``UpstreamLoan`` maps our loan rows to the upstream's loan ids; ``UpstreamPatron``
remembers when a patron was last read from the upstream; ``PendingRenewal`` holds
renewals accepted while the upstream was down, replayed exactly once when it returns
(a row is claimed by moving it from ``pending`` to ``sending`` in one UPDATE); ``PendingCirculation`` holds the
checkouts and returns whose answer was lost and could not be read back, settled in the background
(``settle_circulation.py``).
"""
from __future__ import annotations

import peewee as pw

from library_kiosk.central.store.devices import SyncConflict
from library_kiosk.central.store.models import BaseModel, Loan, _now


class UpstreamLoan(BaseModel):
    loan = pw.ForeignKeyField(Loan, unique=True, on_delete="CASCADE")
    upstream_id = pw.CharField(max_length=100)


class UpstreamPatron(BaseModel):
    primary_id = pw.CharField(max_length=100, unique=True)
    refreshed = pw.DateTimeField(default=_now)


class PendingRenewal(BaseModel):
    primary_id = pw.CharField(max_length=100, index=True)
    loan_id = pw.IntegerField()
    item_barcode = pw.CharField(max_length=60)
    upstream_id = pw.CharField(max_length=100, default="")
    status = pw.CharField(max_length=10, default="pending", index=True)  # pending / sending / done / refused / to_check
    due_before = pw.DateField(null=True)  # to_check: the due date before the renewal whose answer was lost
    reason = pw.CharField(max_length=40, default="")
    created = pw.DateTimeField(default=_now)
    sent = pw.DateTimeField(null=True)


class PendingCirculation(BaseModel):
    """A checkout or return sent to the library system whose outcome is unknown (its answer lost, the read-back
    failed), with the conflict staff see; ``settle_circulation.settle`` reads it back later. A row is claimed by
    moving it from ``to_check`` to ``checking`` in one UPDATE."""

    op_type = pw.CharField(max_length=10)  # checkout / checkin
    key = pw.CharField(max_length=160)  # the operation's idempotency key (a return sent again goes with it)
    primary_id = pw.CharField(max_length=100, default="")  # checkout: the borrower; a return names nobody
    item_barcode = pw.CharField(max_length=60)
    library = pw.CharField(max_length=40, default="")  # a return: where it was made (sent again with it)
    conflict = pw.ForeignKeyField(SyncConflict, on_delete="CASCADE")
    # to_check / checking / lent / not_lent / returned / sent_again / refused / staff (dealt with by staff first)
    status = pw.CharField(max_length=12, default="to_check", index=True)
    reason = pw.CharField(max_length=60, default="")
    created = pw.DateTimeField(default=_now)
    checked = pw.DateTimeField(null=True)  # when last claimed to be checked


UPSTREAM_MODELS = [UpstreamLoan, UpstreamPatron, PendingRenewal, PendingCirculation]


def create_tables(db) -> None:
    from library_kiosk.central.store.schema import add_missing_columns

    db.create_tables(UPSTREAM_MODELS, safe=True)
    add_missing_columns(db, UPSTREAM_MODELS)
