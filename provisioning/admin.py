"""The administrator's page: the central store's administration jobs (docs/feed.md).

Every job form starts a dry run (in a background thread, ``provisioning.jobrunner``)
whose progress the page polls every second; its report (counts and the affected
records) is shown with a Confirm button that runs the same parameters for real. Every
run is stored as a ``JobRun`` (listed below the forms, each with its stored report)
and every real run writes an audit entry (``job:NAME``, by the staff user). Role:
administrator.
"""
from __future__ import annotations

import json
import os
import secrets
from functools import partial

from flask import Blueprint, abort, current_app, request

from library_kiosk.central.store.jobs import anonymise, feed, groups, merge, purge, waive
from library_kiosk.central.store.jobs.report import get_run, latest_runs
from library_kiosk.central.store.models import UserGroup
from library_kiosk.domain import codes
from provisioning import job_reports, jobrunner
from provisioning.audit import JOB_TITLES
from provisioning.views import operator, or_404, render, requires, today

bp = Blueprint("admin", __name__, url_prefix="/admin")
JOBS = {
    "feed": "Load a patron feed",
    "purge": "Purge user records",
    "waive": "Bulk fine waiving",
    "merge": "Merge users",
    "groups.move": "Move a user group's users",
    "groups.remove": "Remove a user group",
    "anonymise": "Anonymise loan history",
}
SHOWN_PER_LIST = 200  # affected records shown per list on the page; the stored report holds up to 10,000


class FormError(ValueError):
    pass


def job_title(job: str) -> str:
    """A job as staff read it: "anonymise" reads "Anonymise loan history"; a job without a form here ("groups.import",
    from the command line) by the audit log's words for it."""
    return JOBS.get(job) or JOB_TITLES.get(job, job).capitalize()


@bp.app_template_global()
def job_name(job: str) -> str:
    return job_title(job)


def _feed_config() -> dict:
    return current_app.config["KIOSK"]["feed"]


def _int(name: str, default: int | None = None) -> int | None:
    text = request.form.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise FormError(f"{name.replace('_', ' ')} must be a whole number") from None


def _text(name: str) -> str | None:
    return request.form.get(name, "").strip() or None


def _flag(name: str) -> bool:
    return request.form.get(name) in ("1", "on", "true", "yes")


def _save_upload() -> tuple[str, str, str]:
    """The uploaded feed file saved under the data folder; (path, original name, format)."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise FormError("choose a feed file to upload")
    name = os.path.basename(upload.filename)
    fmt = _feed_format(name)
    folder = os.path.join(current_app.config["KIOSK"]["data_dir"], "feed-uploads")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{secrets.token_hex(8)}-{''.join(c for c in name if c.isalnum() or c in '._-')}")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # patrons' data: staff's eyes only
    with os.fdopen(descriptor, "wb") as target:
        upload.save(target)
    return path, name, fmt


def _feed_format(name: str) -> str:
    fmt = request.form.get("format", "auto")
    if fmt == "auto":
        return "alma-xml" if name.lower().endswith(".xml") else "csv"
    if fmt not in feed.FORMATS:
        raise FormError(f"unknown format {fmt!r}")
    return fmt


def build(job: str, who: str, day) -> tuple[object, dict, str]:
    """The job call for the posted form: (call(dry_run=, progress=), parameters shown, uploaded file)."""
    config = _feed_config()
    if job == "feed":
        source = request.form.get("source", "")
        if source not in codes.SOURCE_SYSTEMS:
            raise FormError("choose the source system")
        path, name, fmt = _save_upload()
        full = request.form.get("mode") == "full"
        encoding = _text("encoding") or "utf-8"
        shown = {"file": name, "format": fmt, "source": source, "full feed": full, "encoding": encoding}
        return partial(feed.load_feed, path, fmt=fmt, source=source, operator=who, today=day, full=full,
                       group_mapping=config["user_groups"], missing_purge_days=config["missing_purge_days"],
                       max_deactivate_share=config["max_deactivate_share"], encoding=encoding,
                       create_groups=config["create_groups"], group_policy=config["default_group_policy"]), shown, path
    if job == "purge":
        kw = {"grace_days": _int("grace_days", 0), "record_type": _text("record_type"),
              "user_group": _text("user_group"), "max_owed": _text("max_owed")}
        return partial(purge.purge_users, operator=who, today=day, **kw), kw, ""
    if job == "waive":
        kw = {"max_threshold": _text("max_threshold"), "reason": _text("reason") or "",
              "comment": _text("comment") or "", "exclude_overdue": _flag("exclude_overdue"),
              "user_group": _text("user_group"), "fee_type": _text("fee_type")}
        return partial(waive.waive_fines, operator=who, today=day, **kw), kw, ""
    if job == "merge":
        copy = {"internal": True, "external": False}.get(request.form.get("copy_as", ""))
        kw = {"duplicate": _text("duplicate") or "", "keep": _text("keep") or "",
              "segments": request.form.getlist("segments"), "copy_as_internal": copy}
        return partial(merge.merge_users, operator=who, today=day, **kw), kw, ""
    if job == "groups.move":
        kw = {"from_group": _text("from_group") or "", "to_group": _text("to_group") or ""}
        return partial(groups.move_group, operator=who, today=day, **kw), kw, ""
    if job == "groups.remove":
        kw = {"code": _text("code") or ""}
        return partial(groups.remove_group, operator=who, today=day, feed_mapping=config["user_groups"], **kw), kw, ""
    if job == "anonymise":
        kw = {"after_days": _int("after_days", int(config["anonymise_after_days"]))}
        if kw["after_days"] is not None and kw["after_days"] < 0:  # refused here: no run stored, nothing changed
            raise FormError("the number of days must be 0 or more")
        return partial(anonymise.anonymise_loans, operator=who, today=day, **kw), kw, ""
    abort(404)


def _page(status: int = 200, **context):
    runs = [(r, json.loads(r.counts)) for r in latest_runs(50)]
    return render("admin.html", status, jobs=JOBS, runs=runs, groups=_groups(), policy_fields=GROUP_POLICY_LABELS,
                  group_list=list(UserGroup.select().order_by(UserGroup.code)), editing=None, notice="", error="",
                  sources=codes.SOURCE_SYSTEMS, fee_types=codes.FEE_TYPES, segments=list(merge.SEGMENTS),
                  anonymise_days=_feed_config()["anonymise_after_days"], group_rows=None, **context)


def _groups() -> list[tuple[str, str]]:
    return [(g.code, f"{g.code} {g.description}") for g in UserGroup.select().order_by(UserGroup.code)]


@bp.get("/")
@requires("administrator")
def index():
    return _page()


@bp.post("/jobs/<job>")
@requires("administrator")
def dry_run(job):
    if job not in JOBS:
        abort(404)
    try:
        call, shown, upload = build(job, operator(), today())
    except FormError as exc:
        return render("_job.html", 422, tracker=None, error=f"Not started: {exc}.")
    tracker = jobrunner.start(job, JOBS[job], operator(), call, shown, upload)
    return render("_job.html", 202, tracker=tracker, shown=SHOWN_PER_LIST)


@bp.get("/progress/<token>")
@requires("administrator")
def progress(token):
    return render("_job.html", tracker=or_404(jobrunner.get(token, operator())), shown=SHOWN_PER_LIST)


@bp.post("/confirm/<token>")
@requires("administrator")
def confirm(token):
    dry = or_404(jobrunner.get(token, operator()))
    real = jobrunner.confirm(dry)
    if real is None:
        return render("_job.html", 409, tracker=dry, shown=SHOWN_PER_LIST,
                      error="This dry run cannot be confirmed (already confirmed, refused or not finished). "
                            "Start a new dry run.")
    return render("_job.html", 202, tracker=real, shown=SHOWN_PER_LIST)


GROUP_POLICY_LABELS = (("pin_required", "PIN required"), ("loan_limit", "Loan limit"),
                       ("loan_period_days", "Loan period (days)"), ("max_renewals", "Renewals"),
                       ("fine_limit", "Fine limit"), ("overdue_limit", "Overdue limit"),
                       ("statistics_required", "Statistics required"))


def _groups_partial(status: int = 200, editing=None, notice: str = "", error: str = ""):
    return render("_groups_edit.html", status, group_list=list(UserGroup.select().order_by(UserGroup.code)),
                  policy_fields=GROUP_POLICY_LABELS, editing=editing, notice=notice, error=error)


@bp.get("/groups")
@requires("administrator")
def groups_edit():
    code = request.args.get("edit", "")
    return _groups_partial(editing=or_404(UserGroup.get_or_none(UserGroup.code == code)) if code else None)


@bp.post("/groups")
@requires("administrator")
def groups_save():
    """Create a user group (a field left empty takes ``[feed] default_group_policy``) or edit one."""
    form = request.form
    policy = {name: form.get(name, "") for name, _label in GROUP_POLICY_LABELS}
    editing = form.get("mode") == "edit"
    try:
        group, created = groups.save_group(form.get("code", ""), form.get("description", ""), policy,
                                           operator=operator(), create=not editing,
                                           default_policy=_feed_config()["default_group_policy"])
    except ValueError as exc:
        found = UserGroup.get_or_none(UserGroup.code == form.get("code", "").strip()) if editing else None
        return _groups_partial(422, editing=found, error=f"Not saved: {exc}.")
    return _groups_partial(notice=f"User group {group.code} {'created' if created else 'saved'}.")


@bp.post("/groups/report")
@requires("administrator")
def group_report():
    report = groups.group_report(operator=operator(), today=today(), feed_mapping=_feed_config()["user_groups"])
    return render("_group_report.html", rows=report.listed("groups"), run_id=report.run_id)


@bp.get("/runs/<int:run_id>")
@requires("administrator")
def run(run_id):
    found = or_404(get_run(run_id))
    if request.args.get("format") == "json":
        return current_app.response_class(json.dumps(found.as_dict(), ensure_ascii=False, indent=2),
                                          mimetype="application/json")
    if request.args.get("format") == "csv":  # every list of the report, patrons by name, amounts as money
        name = f"job-run-{found.id}-{found.job.replace('.', '-')}{'-dry-run' if found.dry_run else ''}.csv"
        return current_app.response_class(job_reports.csv_text(found.as_dict()), mimetype="text/csv",
                                          headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return render("admin_run.html", run=found.as_dict(), job_run=found, shown=SHOWN_PER_LIST)
