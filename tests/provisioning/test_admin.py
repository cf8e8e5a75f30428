"""The administrator's page: every job as a dry run with its report, then a confirmed
real run in a background thread whose progress the page polls; stored reports, the
audit log, roles and CSRF."""
import io
import json
import re

import pytest

from library_kiosk.central.store.jobs.models import JobRun
from library_kiosk.central.store.models import Change, Fee, Loan, User, UserGroup
from library_kiosk.central.store.staff import AuditEntry
from provisioning import jobrunner
from tests.provisioning.helpers import StaffClient, not_logged_in
from tests.store import factories

FEED = ("primary_id,last_name,first_name,user_group,expiry_date,barcode,email\n"
        "S1,Ólafsdóttir,Zoë,25,2027-09-30,21000000000001,zoe@example.org\n"
        "S2,Ng,Mei,25,2027-09-30,21000000000002,\n"
        "S3,Bad,Row,99,2027-09-30,,\n")


@pytest.fixture
def admin(station):
    return StaffClient(station, "admin")


def _token(html: str) -> str:
    return re.search(r'id="job-([\w-]+)"', html).group(1)


def finish(client, response) -> str:
    """Wait for the job's thread to end, then the job's progress partial (what the page polls every second),
    which must say it is finished."""
    assert response.status_code == 202, response.get_data(as_text=True)
    token = _token(response.get_data(as_text=True))
    jobrunner.wait_all(30)
    html = client.get(f"/admin/progress/{token}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'hx-trigger="every 1s"' not in html, "the job did not finish"
    return html


def upload(client, text=FEED, name="students.csv", **form):
    data = {"source": "STUDENT", "mode": "partial", "file": (io.BytesIO(text.encode("utf-8")), name), **form}
    return client.post("/admin/jobs/feed", data, headers={"HX-Request": "true"}, content_type="multipart/form-data")


def confirm(client, html):
    return client.post(f"/admin/confirm/{_token(html)}", headers={"HX-Request": "true"})


def test_only_administrators_reach_the_page_and_forms_need_csrf(station):
    anonymous = station.test_client()
    assert anonymous.get("/admin/").status_code == 302
    assert anonymous.post("/admin/jobs/purge").status_code == 400  # no CSRF token
    assert not_logged_in(station).post("/admin/jobs/purge").status_code == 401  # a token, but no login
    for name in ("desk", "manager"):
        other = StaffClient(station, name)
        assert other.get("/admin/").status_code == 403
        assert other.post("/admin/jobs/purge", {"grace_days": "0"}).status_code == 403
        assert other.get("/admin/runs/1").status_code == 403
        assert "/admin/" not in other.get("/").get_data(as_text=True)
    admin = StaffClient(station, "admin")
    assert 'href="/admin/"' in admin.get("/").get_data(as_text=True)
    for token in (None, "forged"):
        data = {"grace_days": "0"} | ({"csrf_token": token} if token else {})
        response = admin.post("/admin/jobs/purge", data, csrf=False)
        assert response.status_code == 400 and "nothing was changed" in response.get_data(as_text=True)
    assert JobRun.select().count() == 0


def test_feed_dry_run_changes_nothing_then_confirm_loads_it(admin, station):
    page = admin.get("/admin/").get_data(as_text=True)
    for job in ("feed", "purge", "waive", "merge", "groups-move", "groups-remove", "anonymise"):
        assert f'data-testid="form-{job}"' in page
    html = finish(admin, upload(admin))
    assert re.search(r'feed \(dry run\): <strong><span [^>]*data-code="done">Done<', html)
    assert 'data-testid="confirm"' in html
    assert re.search(r'data-testid="count-created">2<', html) and re.search(r'data-testid="count-rejected">1<', html)
    assert "unknown user group" in html  # the rejected row, with its line and reason
    assert User.select().count() == 0 and Change.select().count() == 0
    dry = JobRun.get()
    assert dry.dry_run and dry.status == "done" and json.loads(dry.counts)["created"] == 2
    assert json.loads(dry.parameters)["source"] == "STUDENT"
    assert AuditEntry.select().where(AuditEntry.action == "job:feed").count() == 0

    done = finish(admin, confirm(admin, html))
    assert re.search(r'feed: <strong><span [^>]*data-code="done">Done<', done) and 'data-testid="job-done"' in done
    assert sorted(u.primary_id for u in User.select()) == ["S1", "S2"]
    assert User.get(User.primary_id == "S1").account_type == "EXTERNAL"
    real = JobRun.select().where(JobRun.dry_run == False).get()  # noqa: E712
    assert real.as_dict()["details"]["created"] == ["S1", "S2"]
    assert real.as_dict()["details"]["rejected"][0]["line"] == 4
    entry = AuditEntry.get(AuditEntry.action == "job:feed")
    assert entry.operator == "admin" and json.loads(entry.detail)["job_run"] == real.id
    assert confirm(admin, html).status_code == 409  # a dry run is confirmed once
    assert JobRun.select().count() == 2

    again = finish(admin, upload(admin))  # idempotent: the same file changes nothing the second time
    assert re.search(r'data-testid="count-unchanged">2<', again)

    runs = admin.get("/admin/").get_data(as_text=True)
    assert f'data-testid="run-{real.id}"' in runs and "created 2" in runs
    shown = admin.get(f"/admin/runs/{real.id}").get_data(as_text=True)
    assert "S1" in shown and "unknown user group" in shown
    assert admin.get(f"/admin/runs/{real.id}?format=json").get_json()["counts"]["created"] == 2


def test_a_dry_run_belongs_to_the_administrator_who_started_it(station, admin):
    html = finish(admin, upload(admin))
    other_admin = StaffClient(station)
    from library_kiosk.central.store import staff
    staff.create_staff("admin2", "Another-admin-pass-7", "administrator")
    other_admin.client.post("/login", data={"username": "admin2", "password": "Another-admin-pass-7",
                                            "csrf_token": _login_token(other_admin)})
    other_admin.refresh_token("/")
    assert other_admin.get(f"/admin/progress/{_token(html)}").status_code == 404
    assert other_admin.post(f"/admin/confirm/{_token(html)}").status_code == 404
    assert User.select().count() == 0


def _login_token(client):
    client.refresh_token("/login")
    return client.token


def test_bad_forms_start_nothing(admin):
    response = admin.post("/admin/jobs/feed", {"source": "STUDENT"}, headers={"HX-Request": "true"})
    assert response.status_code == 422 and "choose a feed file" in response.get_data(as_text=True)
    response = upload(admin, source="")
    assert response.status_code == 422 and "source system" in response.get_data(as_text=True)
    response = admin.post("/admin/jobs/purge", {"grace_days": "soon"})
    assert response.status_code == 422 and "whole number" in response.get_data(as_text=True)
    assert admin.post("/admin/jobs/nosuchjob").status_code == 404
    assert JobRun.select().count() == 0
    refused = finish(admin, upload(admin, text="primary_id,last_name\nS1,X\n"))  # the job refuses the file
    assert "refused" in refused and "missing columns" in refused and 'data-testid="confirm"' not in refused


def test_purge_waive_merge_groups_and_anonymise_from_the_page(admin, station, today):
    import datetime as dt

    gone = factories.patron("OLD1")
    User.update(purge_date=today - dt.timedelta(days=3)).where(User.id == gone.id).execute()
    owing = factories.patron("P2", barcode="20000000000022", card="04A1B2C3D4E522")
    factories.fine(owing, "4.00")
    html = finish(admin, admin.post("/admin/jobs/purge", {"grace_days": "0"}))
    assert "OLD1" in html and User.select().where(User.primary_id == "OLD1").exists()
    finish(admin, confirm(admin, html))
    assert not User.select().where(User.primary_id == "OLD1").exists()

    html = finish(admin, admin.post("/admin/jobs/waive", {"max_threshold": "5.00", "reason": "Amnesty"}))
    assert "P2" in html and Fee.get().balance == 4
    finish(admin, confirm(admin, html))
    assert Fee.get().balance == 0 and Fee.get().status == "CLOSED"

    dup = factories.patron("DUP1", barcode="20000000000033", card="04A1B2C3D4E533")
    factories.loan(dup, title="Middlemarch")
    html = finish(admin, admin.post("/admin/jobs/merge", {"duplicate": "DUP1", "keep": "P2",
                                                          "segments": ["notes", "identifiers"]}))
    assert re.search(r'data-testid="count-moved_loans">1<', html) and User.select().count() == 2
    finish(admin, confirm(admin, html))
    assert Loan.get().user.primary_id == "P2" and User.select().count() == 1

    factories.group("77", description="Old group")
    html = finish(admin, admin.post("/admin/jobs/groups.move", {"from_group": "25", "to_group": "59"}))
    finish(admin, confirm(admin, html))
    assert User.get().user_group_id == "59"
    html = finish(admin, admin.post("/admin/jobs/groups.remove", {"code": "77"}))
    finish(admin, confirm(admin, html))
    assert not UserGroup.select().where(UserGroup.code == "77").exists()
    report = admin.post("/admin/groups/report", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-testid="group-59"' in report

    loan = Loan.get()
    Loan.update(status="RETURNED", return_date=today - dt.timedelta(days=90)).where(Loan.id == loan.id).execute()
    html = finish(admin, admin.post("/admin/jobs/anonymise", {"after_days": "60"}))
    assert Loan.get().user_id is not None
    finish(admin, confirm(admin, html))
    assert Loan.get().user_id is None
    actions = {a.action for a in AuditEntry.select().where(AuditEntry.operator == "admin")}
    assert {"job:purge", "job:waive", "job:merge", "job:groups.move", "job:groups.remove",
            "job:anonymise"} <= actions


def test_progress_is_reported_while_the_job_runs(admin, monkeypatch):
    """A slow job: the partial polls with a progress bar until the thread has finished."""
    import threading

    from library_kiosk.central.store.jobs import anonymise

    reported, release = threading.Event(), threading.Event()
    real = anonymise.anonymise_loans

    def slow(**kw):
        progress = kw["progress"]
        progress(1, 4)
        reported.set()
        release.wait(10)
        return real(**kw)

    monkeypatch.setattr(anonymise, "anonymise_loans", slow)
    response = admin.post("/admin/jobs/anonymise", {"after_days": "60"}, headers={"HX-Request": "true"})
    token = _token(response.get_data(as_text=True))
    assert reported.wait(10), "the job never reported its progress"
    html = admin.get(f"/admin/progress/{token}").get_data(as_text=True)
    assert "1 / 4" in html and 'hx-trigger="every 1s"' in html and "<progress" in html
    release.set()
    jobrunner.wait_all()
    assert 'hx-trigger="every 1s"' not in admin.get(f"/admin/progress/{token}").get_data(as_text=True)


@pytest.mark.parametrize("days", ["-5", "-1"])
def test_a_negative_number_of_days_starts_nothing_and_stores_no_report(admin, days):
    response = admin.post("/admin/jobs/anonymise", {"after_days": days}, headers={"HX-Request": "true"})
    assert (response.status_code, "the number of days must be 0 or more" in response.get_data(as_text=True),
            JobRun.select().count()) == (422, True, 0)


def _job_status(html: str) -> str:
    text = re.search(r'data-testid="job-status">(.*?)</p>', html, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", "", text).split())


def test_a_dry_run_report_names_the_job_in_words(admin):
    html = finish(admin, admin.post("/admin/jobs/anonymise", {"after_days": "60"}))
    assert _job_status(html).startswith("Anonymise loan history (dry run): ")


def test_past_runs_name_each_job_in_words(admin):
    finish(admin, admin.post("/admin/jobs/anonymise", {"after_days": "60"}))
    page = admin.get("/admin/").get_data(as_text=True)
    run = re.search(r'data-testid="run-\d+">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r"<td>([^<]*)</td>", run)[:2] == ["Anonymise loan history", "dry run"]


def test_a_stored_run_names_its_job_in_words(admin):
    finish(admin, admin.post("/admin/jobs/anonymise", {"after_days": "60"}))
    page = admin.get(f"/admin/runs/{JobRun.get().id}").get_data(as_text=True)
    assert f"<h1>Job run {JobRun.get().id}: Anonymise loan history (dry run)</h1>" in page
