"""What each kiosk screen shows, computed from an account and the day.

Plain functions the routes call, so templates stay simple and the rules stay in
the domain core.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from domain.account import Account, Loan
from domain.blocks import BlockReason, active_blocks
from domain.membership import days_until_expiry, last_valid_day
from domain.renewal import renewals_left


@dataclass(frozen=True)
class LoanRow:
    loan: Loan
    overdue: bool
    renewals_left: int


@dataclass(frozen=True)
class AccountScreen:
    account: Account
    blocks: list[BlockReason]
    loans: list[LoanRow]
    expiry_days: int | None
    expiry_warning: bool

    @property
    def last_valid_day(self) -> dt.date | None:
        return last_valid_day(self.account.expiry_date)

    @property
    def ready_requests(self):
        return [r for r in self.account.requests if r.ready_for_pickup]

    @property
    def other_requests(self):
        return [r for r in self.account.requests if not r.ready_for_pickup]


def account_screen(account: Account, today: dt.date, warning_days: int) -> AccountScreen:
    days = days_until_expiry(account.expiry_date, today)
    return AccountScreen(
        account=account,
        blocks=active_blocks(account, today),
        loans=[LoanRow(loan, loan.is_overdue(today), renewals_left(account, loan)) for loan in account.loans],
        expiry_days=days,
        expiry_warning=days is not None and 0 < days <= warning_days,
    )
