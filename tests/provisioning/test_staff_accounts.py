"""Staff accounts from the station: an administrator deactivates and reactivates accounts and sets
new passwords; every staff user changes their own password. Role checks, CSRF, the password rules,
messages next to the fields, the login refusal of a deactivated account, sessions that end, audit."""
import re

import pytest

from library_kiosk.central.store import staff
from library_kiosk.central.store.staff import AuditEntry, StaffUser
from tests.provisioning.helpers import PASSWORDS, StaffClient, not_logged_in

NEW = "Heron-window-4812"


@pytest.fixture
def admin(station):
    return StaffClient(station, "admin")


def _active(username):
    return StaffUser.get(StaffUser.username == username).active


def _login(station, username, password):
    client = StaffClient(station)
    client.refresh_token()
    return client, client.post("/login", {"username": username, "password": password})


def _audit(action):
    entries = AuditEntry.select().where(AuditEntry.action == action).order_by(AuditEntry.id)
    return [(a.operator, a.detail) for a in entries]


def test_a_deactivated_account_cannot_log_in_and_says_so_whatever_the_password(admin, station):
    page = admin.get("/staff").get_data(as_text=True)
    assert 'data-testid="deactivate-desk"' in page and 'hx-confirm="Deactivate desk?' in page
    assert 'data-testid="deactivate-admin"' not in page  # not one's own
    response = admin.post("/staff/active", {"username": "desk", "active": "0"})
    assert response.status_code == 200 and "desk is deactivated" in response.get_data(as_text=True)
    assert not _active("desk")
    assert re.search(r'data-testid="staff-desk".*?data-testid="active">deactivated<', admin.get("/staff").get_data(
        as_text=True), re.S)
    answers = [_login(station, "desk", password)[1] for password in (PASSWORDS["desk"], "wrong-password-1")]
    texts = [a.get_data(as_text=True) for a in answers]
    assert [a.status_code for a in answers] == [401, 401]
    for text in texts:
        assert staff.DEACTIVATED_LOGIN in text and "not right" not in text
    untokened = [t.replace(re.search(r'name="csrf_token" value="([^"]+)"', t).group(1), "TOKEN") for t in texts]
    assert untokened[0] == untokened[1]  # the same page, right password or not
    assert "is not right" in _login(station, "nobody", "x")[1].get_data(as_text=True)

    assert admin.post("/staff/active", {"username": "desk", "active": "1"}).status_code == 200
    assert _active("desk") and _login(station, "desk", PASSWORDS["desk"])[1].status_code == 302
    assert _audit("staff.deactivate") == [("admin", "desk")] and _audit("staff.reactivate") == [("admin", "desk")]


def test_a_session_of_an_account_deactivated_meanwhile_ends_at_its_next_request(admin, station):
    desk = StaffClient(station, "desk")
    assert desk.get("/conflicts").status_code == 200
    admin.post("/staff/active", {"username": "desk", "active": "0"})
    response = desk.get("/conflicts")
    assert response.status_code == 302 and "/login" in response.location
    assert "this staff account was deactivated" in desk.get("/login").get_data(as_text=True)
    htmx = StaffClient(station, "manager")
    admin.post("/staff/active", {"username": "manager", "active": "0"})
    assert htmx.post("/password", {"current_password": PASSWORDS["manager"], "new_password": NEW,
                                   "confirm_password": NEW}).status_code == 401  # a valid token, an ended session
    assert htmx.get("/calls/list", headers={"HX-Request": "true"}).headers["HX-Redirect"].endswith("/login")
    assert staff.authenticate("manager", PASSWORDS["manager"]) is None  # nothing changed: still deactivated
    StaffUser.update(active=True).where(StaffUser.username == "manager").execute()
    assert staff.authenticate("manager", PASSWORDS["manager"]) is not None


def test_nobody_deactivates_their_own_account_and_unknown_or_repeated_changes_are_refused(admin):
    response = admin.post("/staff/active", {"username": "admin", "active": "0"})
    assert response.status_code == 409 and "cannot deactivate your own account" in response.get_data(as_text=True)
    assert _active("admin")
    assert admin.post("/staff/active", {"username": "nobody", "active": "0"}).status_code == 409
    assert admin.post("/staff/active", {"username": "desk", "active": "1"}).status_code == 409  # already active
    assert not AuditEntry.select().where(AuditEntry.action.startswith("staff.")).where(
        AuditEntry.operator == "admin").exists()


def test_changing_ones_own_password_follows_the_rules_with_messages_next_to_the_fields(station):
    desk = StaffClient(station, "desk")
    page = desk.get("/").get_data(as_text=True)
    assert 'href="/password"' in page  # every staff user has the link
    cases = [
        ({"current_password": "wrong", "new_password": NEW, "confirm_password": NEW},
         {"current_password": "current password is not right"}),
        ({"current_password": PASSWORDS["desk"], "new_password": "short", "confirm_password": "short"},
         {"new_password": "at least 8 characters"}),
        ({"current_password": PASSWORDS["desk"], "new_password": "my-desk-pass", "confirm_password": "my-desk-pass"},
         {"new_password": "must not include the user name"}),
        ({"current_password": PASSWORDS["desk"], "new_password": "password", "confirm_password": "password"},
         {"new_password": "too common"}),
        ({"current_password": PASSWORDS["desk"], "new_password": NEW, "confirm_password": NEW + "x"},
         {"confirm_password": "not the same"}),
    ]
    for form, expected in cases:
        response = desk.post("/password", form)
        text = response.get_data(as_text=True)
        assert response.status_code == 422, form
        for field, message in expected.items():
            shown = re.search(rf'<input id="{field}"[^>]*>\s*<div class="error" id="error-{field}"[^>]*>([^<]*)<', text)
            assert shown and message in shown.group(1), (form, text)
        assert f'value="{form["new_password"]}"' not in text  # passwords are never echoed back
    assert staff.authenticate("desk", PASSWORDS["desk"]) is not None and not _audit("staff.password_change")

    other = StaffClient(station, "desk")  # another session of the same user
    response = desk.post("/password", {"current_password": PASSWORDS["desk"], "new_password": NEW,
                                       "confirm_password": NEW})
    assert response.status_code == 200 and "Your password is changed" in response.get_data(as_text=True)
    assert staff.authenticate("desk", PASSWORDS["desk"]) is None and staff.authenticate("desk", NEW) is not None
    assert desk.get("/conflicts").status_code == 200  # this session goes on
    ended = other.get("/conflicts")
    assert ended.status_code == 302 and "/login" in ended.location
    assert "password was changed" in other.get("/login").get_data(as_text=True)
    assert _audit("staff.password_change") == [("desk", "desk changed their own password")]


def test_an_administrator_sets_a_new_password_for_another_account(admin, station):
    manager = StaffClient(station, "manager")
    response = admin.post("/staff/password", {"username": "manager", "new_password": "manager-2026",
                                              "confirm_password": "other"})
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'data-testid="error-new_password">[^<]*must not include the user name', text)
    assert re.search(r'data-testid="error-confirm_password">[^<]*not the same', text)
    assert re.search(r'<details open><summary data-testid="set-password-manager">', text)
    assert staff.authenticate("manager", PASSWORDS["manager"]) is not None

    response = admin.post("/staff/password", {"username": "manager", "new_password": NEW, "confirm_password": NEW})
    assert response.status_code == 200 and "New password set for manager" in response.get_data(as_text=True)
    assert staff.authenticate("manager", NEW) is not None
    assert staff.authenticate("manager", PASSWORDS["manager"]) is None
    assert manager.get("/").status_code == 302  # the manager's open session ends
    assert _audit("staff.password_set") == [("admin", "New password set for manager")]
    own = admin.post("/staff/password", {"username": "admin", "new_password": NEW, "confirm_password": NEW})
    assert own.status_code == 409 and "My password" in own.get_data(as_text=True)  # own: with the current one
    assert staff.authenticate("admin", PASSWORDS["admin"]) is not None


def test_only_administrators_manage_staff_accounts(station):
    for username in ("desk", "manager"):
        client = StaffClient(station, username)
        other = "manager" if username == "desk" else "desk"
        assert client.post("/staff/active", {"username": other, "active": "0"}).status_code == 403
        assert client.post("/staff/password", {"username": other, "new_password": NEW,
                                               "confirm_password": NEW}).status_code == 403
        assert client.get("/password").status_code == 200  # but everybody changes their own
    assert _active("desk") and _active("manager")
    assert staff.authenticate("desk", PASSWORDS["desk"]) and staff.authenticate("manager", PASSWORDS["manager"])
    anonymous = station.test_client()
    assert anonymous.get("/password").status_code == 302
    anonymous = not_logged_in(station)
    for path in ("/staff/active", "/staff/password", "/password"):
        assert anonymous.post(path, {"username": "desk", "active": "0"}).status_code == 401, path
    assert _active("desk")


def test_the_staff_forms_need_a_valid_csrf_token(admin, station):
    desk = StaffClient(station, "desk")
    for token in (None, "forged-token"):
        extra = {} if token is None else {"csrf_token": token}
        assert admin.post("/staff/active", {"username": "desk", "active": "0", **extra}, csrf=False).status_code == 400
        assert admin.post("/staff/password", {"username": "desk", "new_password": NEW, "confirm_password": NEW,
                                              **extra}, csrf=False).status_code == 400
        assert desk.post("/password", {"current_password": PASSWORDS["desk"], "new_password": NEW,
                                       "confirm_password": NEW, **extra}, csrf=False).status_code == 400
    assert _active("desk") and staff.authenticate("desk", PASSWORDS["desk"]) is not None
    assert not AuditEntry.select().where(AuditEntry.action.startswith("staff.")).where(
        AuditEntry.operator != "system").exists()


def _role(username):
    return StaffUser.get(StaffUser.username == username).role


def test_an_administrator_changes_another_accounts_role_and_its_session_has_the_new_rights_at_once(admin, station):
    page = admin.get("/staff").get_data(as_text=True)
    assert 'data-testid="change-role-desk"' in page and 'data-testid="change-role-admin"' not in page  # not one's own
    assert re.search(r'data-testid="role-desk">.*?<option value="circulation" selected>', page, re.S)
    desk = StaffClient(station, "desk")  # a session open before the change
    assert desk.get("/register").status_code == 403 and desk.get("/staff").status_code == 403

    response = admin.post("/staff/role", {"username": "desk", "role": "user_manager"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "desk is now User manager" in text
    assert re.search(r'data-testid="staff-desk".*?data-testid="role">User manager<', text, re.S)
    assert _role("desk") == "user_manager"
    assert desk.get("/register").status_code == 200  # the same session, the new rights
    assert desk.get("/staff").status_code == 403

    assert admin.post("/staff/role", {"username": "desk", "role": "administrator"}).status_code == 200
    assert desk.get("/staff").status_code == 200
    assert admin.post("/staff/role", {"username": "manager", "role": "circulation"}).status_code == 200
    manager = StaffClient(station, "manager")
    assert manager.get("/register").status_code == 403  # demoted: the rights go too
    # the promoted desk administrator demotes the one who promoted them; nobody demotes themselves
    desk.refresh_token("/staff")
    assert desk.post("/staff/role", {"username": "admin", "role": "circulation"}).status_code == 200
    assert admin.get("/staff").status_code == 403
    assert _audit("staff.role") == [("admin", "desk: Circulation desk -> User manager"),
                                    ("admin", "desk: User manager -> Administrator"),
                                    ("admin", "manager: User manager -> Circulation desk"),
                                    ("desk", "admin: Administrator -> Circulation desk")]


def test_nobody_changes_their_own_role_and_bad_role_changes_change_nothing(admin, station):
    own = admin.post("/staff/role", {"username": "admin", "role": "circulation"})
    assert own.status_code == 409 and "cannot change your own role" in own.get_data(as_text=True)
    for form, message in (({"username": "desk", "role": "superuser"}, "Unknown role"),
                          ({"username": "desk", "role": ""}, "Unknown role"),
                          ({"username": "nobody", "role": "circulation"}, "no staff user"),
                          ({"username": "desk", "role": "circulation"}, "already Circulation desk")):
        response = admin.post("/staff/role", form)
        assert response.status_code == 409 and message in response.get_data(as_text=True), form
    for username in ("desk", "manager"):  # only administrators
        client = StaffClient(station, username)
        other = "manager" if username == "desk" else "desk"
        assert client.post("/staff/role", {"username": other, "role": "administrator"}).status_code == 403
        assert client.post("/staff/role", {"username": username, "role": "administrator"}).status_code == 403
    for token in (None, "forged-token"):  # CSRF
        extra = {} if token is None else {"csrf_token": token}
        assert admin.post("/staff/role", {"username": "desk", "role": "administrator", **extra},
                          csrf=False).status_code == 400
    assert station.test_client().post("/staff/role", data={"username": "desk", "role": "administrator"}
                                      ).status_code in (400, 401)
    assert [_role(u) for u in ("admin", "manager", "desk")] == ["administrator", "user_manager", "circulation"]
    assert not _audit("staff.role")
