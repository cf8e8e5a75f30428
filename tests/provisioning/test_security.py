"""Every route refuses anonymous users and users without the role; forms need a valid
CSRF token; the audit log records each change; sessions time out."""
import re

import pytest

from library_kiosk.central.store.models import Fee, User
from library_kiosk.central.store.staff import AuditEntry, authenticate
from tests.provisioning.helpers import REGISTRATION, StaffClient, not_logged_in
from tests.store import factories

ARGS = {"primary_id": "P1", "kind": "email", "row_id": 1, "identifier_id": 1, "fee_id": 1, "loan_id": 1,
        "action": "lost", "letter_id": 1, "job": "purge", "report": "loans-report", "token": "no-such-run", "run_id": 1}


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "vendor.static", "shared.static", "favicon", "auth.login", "health.health"):
            continue  # public by design
        args = dict(ARGS, kind="pay") if rule.endpoint == "desk.settle" else ARGS
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m, args=args: str(args[m.group(1)]), rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, path


def test_anonymous_users_are_sent_to_login_everywhere(station):
    client = not_logged_in(station)  # with a valid CSRF token, so that only the login is missing
    seen = 0
    for endpoint, method, path in routes(station):
        data = None if method == "GET" else {"csrf_token": client.token}
        response = client.client.open(path, method=method, data=data)
        if method == "GET" and endpoint != "events.events":
            assert response.status_code == 302 and "/login" in response.location, (endpoint, method)
        else:  # a change, or the event stream: 401 and the "Please log in" page
            assert response.status_code == 401, (endpoint, method, response.status_code)
        seen += 1
    assert seen > 20


def test_roles_are_enforced(station):
    factories.patron("P1")
    desk = StaffClient(station, "desk")
    for endpoint, method, path in routes(station):
        view = station.view_functions[endpoint]
        role = getattr(view, "required_role", "circulation")
        if role == "circulation" or endpoint == "events.events":
            continue
        response = desk.post(path) if method == "POST" else desk.get(path)
        assert response.status_code == 403, (endpoint, method, response.status_code)
    manager = StaffClient(station, "manager")
    assert manager.get("/staff").status_code == 403 and manager.get("/audit").status_code == 403
    assert StaffClient(station, "admin").get("/audit").status_code == 200


def test_posts_without_a_valid_csrf_token_change_nothing(manager):
    factories.patron("P1")
    for token in (None, "forged-token"):
        data = dict(REGISTRATION) if token is None else {**REGISTRATION, "csrf_token": token}
        response = manager.post("/register", data, csrf=False)
        assert response.status_code == 400 and "nothing was changed" in response.get_data(as_text=True)
        response = manager.post("/patrons/P1/fees", {"fee_type": "OTHER", "amount": "3.00"} | (
            {} if token is None else {"csrf_token": token}), csrf=False)
        assert response.status_code == 400
    assert User.select().count() == 1 and Fee.select().count() == 0
    assert not AuditEntry.select().where(AuditEntry.primary_id != "").exists()


def test_audit_log_records_each_change(manager, station):
    factories.patron("P1")
    manager.post("/patrons/P1/fees", {"fee_type": "OTHER", "amount": "3.00"})
    manager.post("/patrons/P1/rows/note", {"note_type": "OTHER", "note_text": "Prefers email"})
    fee = Fee.get()
    manager.post(f"/patrons/P1/fees/{fee.id}/waive", {"amount": "3.00", "reason": "Goodwill"})
    actions = [(a.operator, a.action) for a in AuditEntry.select().where(AuditEntry.primary_id == "P1")
               .order_by(AuditEntry.id)]
    assert actions == [("manager", "fee.add"), ("manager", "note.add"), ("manager", "fee.waive")]
    page = StaffClient(station, "admin").get("/audit").get_data(as_text=True)
    assert "fee.waive" in page and "Goodwill" in page


def test_wrong_password_and_session_timeout(station, monkeypatch):
    assert authenticate("manager", "wrong-password") is None and authenticate("nobody", "x") is None
    client = StaffClient(station, "manager")
    assert client.get("/").status_code == 200
    import time as real_time
    later = real_time.time() + 16 * 60
    from types import SimpleNamespace
    monkeypatch.setattr("provisioning.auth.time", SimpleNamespace(time=lambda: later))
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.location
    assert "timed out" in client.get("/login").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/", "/patrons/P1"])
def test_pages_are_not_cached(manager, path):
    factories.patron("P1")
    assert manager.get(path).headers["Cache-Control"].startswith("no-store")
