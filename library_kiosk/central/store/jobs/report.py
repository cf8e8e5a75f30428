"""Job reports and the runner every administration job goes through.

``run_job`` stores a ``JobRun`` row when the job starts (status ``running``), calls
the job's body with a :class:`JobReport`, and stores the outcome: ``done``,
``refused`` (the job checked its parameters or its safety limits and changed
nothing) or ``failed`` (an unexpected error; the body's transactions rolled back).
It also writes one ``AuditEntry`` (store/staff.py) per run that was not a dry run.
"""
from __future__ import annotations

import datetime as dt
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from library_kiosk.central.store.db import database
from library_kiosk.central.store.jobs.models import JobRun
from library_kiosk.central.store.models import _now

DETAIL_LIMIT = 10_000  # affected records kept per list in a stored report; the counts stay exact

Progress = Callable[[int, int], None]  # progress(done, total); it may also take a phase: progress(done, total, phase)


DOCUMENTS_PHASE = "Preparing kiosk documents"  # after a feed or demo load: the changed patrons' kiosk documents


def phase_progress(progress: Progress | None, phase: str, restart: bool = True) -> Progress | None:
    """A ``(done, total)`` callback for a later, named phase of a job (e.g. "Preparing kiosk documents"): it calls
    ``progress(done, total, phase)`` if ``progress`` takes a third argument (the CLI and the station show the
    phase); else ``progress(done, total)`` (the counts start again from 0) when ``restart``, or nothing."""
    if progress is None:
        return None
    try:
        inspect.signature(progress).bind(0, 0, phase)
    except (TypeError, ValueError):
        return progress if restart else None
    return lambda done, total: progress(done, total, phase)


class JobRefused(Exception):
    """The job will not run with these parameters; nothing was changed."""


def _jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


@dataclass
class JobReport:
    job: str
    operator: str
    parameters: dict
    dry_run: bool
    counts: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    status: str = "running"
    message: str = ""
    run_id: int | None = None

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def add(self, key: str, item) -> None:
        """List an affected record under ``key`` (counted too)."""
        self.count(key)
        items = self.details.setdefault(key, [])
        if len(items) < DETAIL_LIMIT:
            items.append(_jsonable(item))

    def add_all(self, key: str, items: list) -> None:
        """List many affected records under ``key`` at once (strings, numbers, or JSON-ready values)."""
        self.count(key, len(items))
        kept = self.details.setdefault(key, [])
        room = DETAIL_LIMIT - len(kept)
        if room > 0 and items:
            kept.extend(items[:room])

    def listed(self, key: str) -> list:
        return self.details.get(key, [])

    @property
    def ok(self) -> bool:
        return self.status == "done"

    def as_dict(self) -> dict:
        return {"id": self.run_id, "job": self.job, "operator": self.operator, "dry_run": self.dry_run,
                "status": self.status, "message": self.message, "parameters": _jsonable(self.parameters),
                "counts": dict(self.counts), "details": self.details}

    def summary(self) -> str:
        head = f"{self.job}{' (dry run)' if self.dry_run else ''}: {self.status}"
        if self.message:
            head += f" - {self.message}"
        counts = ", ".join(f"{key} {value:,}" if isinstance(value, int) else f"{key} {value}"
                           for key, value in self.counts.items())  # amounts are text ("12.50"), counts numbers
        return head + (f"\n  {counts}" if counts else "")


def run_job(job: str, parameters: dict, operator: str, dry_run: bool, body: Callable[[JobReport], None]) -> JobReport:
    report = JobReport(job=job, operator=(operator or "").strip(), parameters=dict(parameters), dry_run=dry_run)
    run = JobRun.create(job=job, operator=report.operator[:100], parameters=json.dumps(_jsonable(parameters)),
                        dry_run=dry_run)
    report.run_id = run.id
    try:
        if not report.operator:
            raise JobRefused("an operator name is required")
        body(report)
        report.status = "done"
    except JobRefused as exc:
        report.status, report.message = "refused", str(exc)
    except Exception as exc:
        report.status, report.message = "failed", f"{type(exc).__name__}: {exc}"
        _finish(run, report)
        raise
    _finish(run, report)
    return report


def _finish(run: JobRun, report: JobReport) -> None:
    if database.in_transaction():  # a failed body may leave us inside a broken transaction
        database.rollback()
    JobRun.update(status=report.status, message=report.message, counts=json.dumps(report.counts),
                  details=json.dumps(report.details), finished=_now()).where(JobRun.id == run.id).execute()
    if not report.dry_run and report.status != "refused":
        _audit(report)


def _audit(report: JobReport) -> None:
    try:
        from library_kiosk.central.store.staff import AuditEntry
    except ImportError:  # the station's audit log is not there: the JobRun row is the record
        return
    subject = report.parameters.get("keep") or report.parameters.get("primary_id") or ""
    AuditEntry.create(operator=report.operator[:60], action=f"job:{report.job}"[:60], primary_id=subject,
                      detail=json.dumps({"job_run": report.run_id, "status": report.status, "counts": report.counts}))


def latest_runs(limit: int = 20, job: str | None = None) -> list[JobRun]:
    query = JobRun.select().order_by(JobRun.id.desc()).limit(limit)
    if job:
        query = query.where(JobRun.job == job)
    return list(query)


def get_run(run_id: int) -> JobRun | None:
    return JobRun.get_or_none(JobRun.id == run_id)
