"""Administration jobs run from the station in a background thread, with progress.

A form's dry run and the confirmed real run each start a thread that calls the job
function (``library_kiosk.central.store.jobs``) with a ``progress`` callback. The page polls the run's
:class:`Tracker` (in memory, keyed by a random token) every second until it is
finished. The parameters of a confirmed run are the ones kept with the dry run on
the server, so a confirmation runs exactly what the report showed, once, and only
for the operator who asked for it.

The trackers live in this process: run the station as one process (the default
``kiosk-station`` server and the appliance do). The lasting record of every run
is its ``JobRun`` row and, for real runs, its audit entry.
"""
from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from library_kiosk.central.store.db import database
from provisioning import job_reports

KEEP_SECONDS = 6 * 3600  # trackers (and uploaded feed files) older than this are forgotten
_lock = threading.Lock()
_trackers: dict[str, Tracker] = {}


@dataclass
class Tracker:
    token: str
    job: str
    title: str
    operator: str
    call: Callable  # call(dry_run=..., progress=...) -> JobReport
    dry_run: bool = True
    parameters: dict = field(default_factory=dict)  # as shown to the operator
    upload: str = ""  # a feed file saved for this run, removed when the real run ends
    done: int = 0
    total: int = 0
    state: str = "running"  # running / finished
    report: dict | None = None  # JobReport.as_dict() once finished
    error: str = ""
    phase: str = ""  # a later named phase of the job, e.g. "Preparing kiosk documents"
    confirmed: bool = False
    names: dict = field(default_factory=dict)  # primary id -> name, as the dry run found them (a purge deletes them)
    started: float = field(default_factory=time.time)
    thread: threading.Thread | None = None

    def progress(self, done: int, total: int, phase: str = "") -> None:
        self.done, self.total, self.phase = done, total, phase

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def finished(self) -> bool:
        return self.state == "finished"

    @property
    def can_confirm(self) -> bool:
        return (self.finished and self.dry_run and not self.confirmed and self.report is not None
                and self.report["status"] == "done")


def _run(tracker: Tracker) -> None:
    database.connect(reuse_if_open=True)
    try:
        report = tracker.call(dry_run=tracker.dry_run, progress=tracker.progress)
        tracker.report = report.as_dict()
    except Exception as exc:  # the JobRun row says "failed"; show it on the page
        tracker.error = f"{type(exc).__name__}: {exc}"
    finally:
        if not database.is_closed():
            database.close()
        if not tracker.dry_run and tracker.upload and os.path.exists(tracker.upload):
            os.remove(tracker.upload)
        tracker.state = "finished"


def _forget_old() -> None:
    cutoff = time.time() - KEEP_SECONDS
    for token, tracker in list(_trackers.items()):
        if tracker.finished and tracker.started < cutoff:
            del _trackers[token]
            if tracker.upload and os.path.exists(tracker.upload):
                os.remove(tracker.upload)


def start(job: str, title: str, operator: str, call: Callable, parameters: dict, upload: str = "") -> Tracker:
    """Start the dry run of a job; returns its tracker."""
    tracker = Tracker(token=secrets.token_urlsafe(16), job=job, title=title, operator=operator, call=call,
                      parameters=parameters, upload=upload)
    with _lock:
        _forget_old()
        _trackers[tracker.token] = tracker
    _launch(tracker)
    return tracker


def confirm(dry: Tracker) -> Tracker | None:
    """Run for real what ``dry`` reported; None if it may not be confirmed (again)."""
    with _lock:
        if not dry.can_confirm:
            return None
        dry.confirmed = True
        real = Tracker(token=secrets.token_urlsafe(16), job=dry.job, title=dry.title, operator=dry.operator,
                       call=dry.call, dry_run=False, parameters=dry.parameters, upload=dry.upload,
                       names=job_reports.names_in(dry.report))  # before the run deletes any of them
        _trackers[real.token] = real
    _launch(real)
    return real


def _launch(tracker: Tracker) -> None:
    tracker.thread = threading.Thread(target=_run, args=(tracker,), name=f"job-{tracker.job}", daemon=True)
    tracker.thread.start()


def get(token: str, operator: str) -> Tracker | None:
    """The tracker of ``token`` if ``operator`` started it."""
    tracker = _trackers.get(token or "")
    return tracker if tracker is not None and tracker.operator == operator else None


def wait_all(seconds: float = 60) -> None:
    """Wait for every running job thread (tests, shutdown)."""
    deadline = time.monotonic() + seconds
    for tracker in list(_trackers.values()):
        if tracker.thread is not None:
            tracker.thread.join(max(0.0, deadline - time.monotonic()))
