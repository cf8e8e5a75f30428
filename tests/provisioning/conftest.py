"""Fixtures for the provisioning station: the app with staff users, a logged-in client
that carries CSRF tokens, a real SMTP server (aiosmtpd), the real reader service in a
subprocess, and Chromium through Playwright."""
from __future__ import annotations

import os
import re

import pytest

from library_kiosk.central.store import staff
from tests.conftest import TODAY, LiveServer, reader_service_process
from tests.store import factories

PASSWORDS = {"admin": "Adm1n-station-pass", "manager": "Manag3r-station-pass", "desk": "Circulation-pass-9"}
ROLES = {"admin": "administrator", "manager": "user_manager", "desk": "circulation"}
ARTIFACTS = os.path.join(os.path.dirname(__file__), "..", "..", "test-artifacts", "provisioning")


@pytest.fixture
def station_config(config, smtp_server):
    config["mail"].update(host="127.0.0.1", port=smtp_server.port, from_address="library@example.org")
    config["provisioning"]["secret_key"] = "station-test-secret"
    return config


@pytest.fixture
def station(central_db, station_config):
    import provisioning

    factories.group("25")
    factories.group("58", description="Library Guest", pin_required=False, registration_fee_type="MEMBERSHIP",
                    registration_fee_amount="10.00")
    factories.group("59", description="Visiting Researcher", statistics_required=True)
    for name, role in ROLES.items():
        staff.create_staff(name, PASSWORDS[name], role)
    return provisioning.create_app(station_config, today=lambda: TODAY)


class StaffClient:
    """A Flask test client that logs in and sends the page's CSRF token with each post."""

    def __init__(self, app, username: str | None = None):
        self.client = app.test_client()
        self.token = ""
        if username:
            self.login(username)

    def refresh_token(self, path="/login"):
        page = self.client.get(path).get_data(as_text=True)
        self.token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def login(self, username):
        self.refresh_token()
        response = self.client.post("/login", data={"username": username, "password": PASSWORDS[username],
                                                    "csrf_token": self.token})
        assert response.status_code == 302, response.get_data(as_text=True)
        self.refresh_token("/")  # a new session after login, so a new token
        return response

    def get(self, path, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path, data=None, csrf=True, **kwargs):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token)
        return self.client.post(path, data=data, **kwargs)


@pytest.fixture
def manager(station):
    return StaffClient(station, "manager")


@pytest.fixture
def desk(station):
    return StaffClient(station, "desk")


@pytest.fixture
def reader_service(tmp_path):
    """The real reader service with a simulated desk reader."""
    with reader_service_process(tmp_path, "Desk reader") as url:
        yield url


@pytest.fixture
def station_url(station):
    """The station served over HTTP (threads) for a browser test; its base URL."""
    server = LiveServer(station)
    yield server.url
    server.stop()


def log_in(page, base_url: str, username: str) -> None:
    """Log a staff user of the station in, in a browser tab (Playwright)."""
    page.goto(base_url + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORDS[username])
    page.click("text=Log in")


REGISTRATION = {
    "first_name": "Ada", "last_name": "Quillfeather", "user_group": "25", "card_expiry": "2027-06-30",
    "pin": "4826", "password": "Orchid-lantern-73", "password_confirm": "Orchid-lantern-73",
    "email": "ada.q@example.org", "email_type": "personal", "address_type": "home", "line1": "1 Gower Street",
    "city": "London", "postal_code": "WC1E 6BT", "country": "GB", "barcode": "21234567890123",
    "card_serial": "04AABBCCDDEE01",
}
