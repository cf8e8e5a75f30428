"""Loan history anonymisation: returned loans lose their link to the patron.

A loan with status RETURNED and a return date at least ``after_days`` days ago
(``return_date <= today - after_days``; default 60) gets ``user = NULL``; its
``user_group`` stays so it stays countable. Loans that incurred a fine or fee (a
``Fee`` row pointing at the loan) are kept as they are. Kiosks show only open
loans, so no Change rows are written.
"""
from __future__ import annotations

import datetime as dt

from library_kiosk.central.store.db import database
from library_kiosk.central.store.jobs.common import _chunks
from library_kiosk.central.store.jobs.report import JobRefused, JobReport, Progress, run_job
from library_kiosk.central.store.models import Fee, Loan


def anonymise_loans(*, operator: str, today: dt.date, after_days: int = 60, dry_run: bool = False,
                    batch_size: int = 5000, progress: Progress | None = None) -> JobReport:
    def body(report: JobReport) -> None:
        if after_days is None or int(after_days) < 0:
            raise JobRefused("the number of days must be 0 or more")
        cutoff = today - dt.timedelta(days=int(after_days))
        with_fee = Fee.select(Fee.loan).where(Fee.loan.is_null(False))
        base = (Loan.user.is_null(False) & (Loan.status == "RETURNED") & Loan.return_date.is_null(False)
                & (Loan.return_date <= cutoff))
        report.counts["kept_with_fees"] = Loan.select().where(base & Loan.id.in_(with_fee)).count()
        ids = [i for (i,) in Loan.select(Loan.id).where(base & Loan.id.not_in(with_fee)).order_by(Loan.id).tuples()]
        report.counts["anonymised"] = 0
        done = 0
        for batch in _chunks(ids, batch_size):
            for loan_id in batch:
                report.add("anonymised", loan_id)
            if not dry_run:
                with database.atomic():
                    Loan.update(user=None).where(Loan.id.in_(batch)).execute()
            done += len(batch)
            if progress:
                progress(done, len(ids))

    return run_job("anonymise", {"after_days": after_days}, operator, dry_run, body)
