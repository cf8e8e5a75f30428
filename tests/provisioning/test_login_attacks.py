"""Staff logins as an attacker tries them (issue 20, "Station accounts"): a password spray against one user name,
a spray across names from one computer, a cookie kept after log out, a session kept open for days, and weak
passwords for a staff account. Each is refused or bounded, and every attempt is in the audit log."""
import datetime as dt

import pytest

from library_kiosk.central.store.staff import AuditEntry, StaffError, create_staff
from library_kiosk.domain import clock
from tests.provisioning.helpers import PASSWORDS, StaffClient


def _attempt(client: StaffClient, username: str, password: str, address: str = "10.1.2.10"):
    client.refresh_token()
    return client.client.post("/login", data={"username": username, "password": password,
                                              "csrf_token": client.token}, environ_base={"REMOTE_ADDR": address})


@pytest.fixture
def later():
    """Move the product's clock on by some minutes for the rest of the test."""
    start = clock.offset()

    def move(minutes: float) -> None:
        clock.set_offset(clock.offset() + dt.timedelta(minutes=minutes))
    yield move
    clock.set_offset(start)


def test_a_password_spray_on_one_name_locks_it_even_for_the_right_password(station, later):
    client = StaffClient(station)
    answers = [_attempt(client, "manager", f"guess-{n}") for n in range(40)]
    assert [a.status_code for a in answers] == [401] * 40
    assert "not right" in answers[4].get_data(as_text=True)  # the fifth wrong password ...
    assert "Too many wrong passwords for this user name" in answers[5].get_data(as_text=True)  # ... locks it
    assert AuditEntry.select().where(AuditEntry.action == "login.failed").count() == 5
    assert AuditEntry.select().where(AuditEntry.action == "login.refused").count() == 35  # not even tried
    right = _attempt(client, "manager", PASSWORDS["manager"])
    assert right.status_code == 401 and "Try again in 15 minutes" in right.get_data(as_text=True)
    later(16)
    assert _attempt(client, "manager", PASSWORDS["manager"]).status_code == 302
    entry = AuditEntry.select().where(AuditEntry.action == "login").get()
    assert (entry.operator, entry.detail) == ("manager", "from 10.1.2.10")


def test_an_unknown_name_locks_the_same_way_so_a_lock_tells_nothing(station):
    client = StaffClient(station)
    for n in range(5):
        _attempt(client, "nobody-here", f"guess-{n}")
    assert "Too many wrong passwords for this user name" in _attempt(client, "nobody-here", "x").get_data(
        as_text=True)


def test_a_spray_across_names_from_one_computer_makes_that_computer_wait(station):
    client = StaffClient(station)
    for n in range(20):  # four wrong passwords for each of five names: no name is locked
        _attempt(client, f"name-{n % 5}", f"guess-{n}", address="10.1.2.7")
    refused = _attempt(client, "desk", PASSWORDS["desk"], address="10.1.2.7")
    assert refused.status_code == 401
    assert "Too many wrong passwords from this computer" in refused.get_data(as_text=True)
    assert _attempt(client, "desk", PASSWORDS["desk"], address="10.1.2.8").status_code == 302  # another desk


def test_a_cookie_kept_after_log_out_opens_nothing(station):
    manager = StaffClient(station, "manager")
    kept = manager.client.get_cookie("session").value
    assert manager.get("/").status_code == 200
    assert manager.post("/logout").status_code == 302
    thief = station.test_client()
    thief.set_cookie("session", kept)
    assert thief.get("/").status_code == 302  # to the login page
    assert AuditEntry.select().where(AuditEntry.action == "logout").count() == 1


def test_a_session_ends_after_its_absolute_lifetime_however_active(station, later):
    manager = StaffClient(station, "manager")
    for _quarter in range(39):  # busy all day: a page every quarter of an hour, for 9 h 45 min
        later(15)
        assert manager.get("/").status_code == 200
    later(16)  # 10 h 1 min after logging in
    assert manager.get("/").status_code == 302


@pytest.mark.parametrize("password", ["aaaaaaaa", "qwertyui", "Password!", "Liverpool1", "iloveyou2"])
def test_weak_or_leaked_staff_passwords_are_refused(central_db, password):
    with pytest.raises(StaffError, match="too common|easy to guess"):
        create_staff("clerk2", password, "circulation")
