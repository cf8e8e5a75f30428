"""Which blocks stand on an account today, each with a plain reason.

Blocks are computed, not stored: a patron is blocked when the record is expired
or inactive, owes more than the group's fine limit, has too many overdue loans,
or carries an active manual block (for example a card reported lost).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from library_kiosk.domain.account import Account
from library_kiosk.domain.membership import is_expired


@dataclass(frozen=True)
class BlockReason:
    code: str
    message: str


def active_blocks(account: Account, today: dt.date) -> list[BlockReason]:
    reasons = []
    if account.status != "ACTIVE":
        reasons.append(BlockReason("inactive", "Your library account is not active."))
    if is_expired(account.expiry_date, today):
        reasons.append(BlockReason("expired", f"Your membership expired on {account.expiry_date:%d %B %Y}."))
    owed = account.total_owed()
    if owed > account.policy.fine_limit:
        reasons.append(
            BlockReason("fines", f"You owe {owed:.2f}, more than the limit of {account.policy.fine_limit:.2f}.")
        )
    overdue = len(account.overdue_loans(today))
    if overdue > account.policy.overdue_limit:
        reasons.append(BlockReason("overdue", f"You have {overdue} overdue items; please return some first."))
    for block in account.blocks:
        if block.status == "ACTIVE" and (block.expiry_date is None or block.expiry_date > today):
            reasons.append(BlockReason("manual:" + block.block_type, block.description))
    return reasons
