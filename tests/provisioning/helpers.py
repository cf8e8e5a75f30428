"""Plain helpers for tests of the provisioning station: the staff users' passwords and roles, a logged-in
client that carries CSRF tokens, logging in from a browser tab, and a complete registration form. (The
station's fixtures, ``station``, ``manager`` and ``desk``, are in tests/conftest.py: the upstream tests use
them too.)"""
from __future__ import annotations

import os
import re

PASSWORDS = {"admin": "Adm1n-station-pass", "manager": "Manag3r-station-pass", "desk": "Circulation-pass-9"}
ROLES = {"admin": "administrator", "manager": "user_manager", "desk": "circulation"}
ARTIFACTS = os.path.join(os.path.dirname(__file__), "..", "..", "test-artifacts", "provisioning")


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

    def post(self, path, data=None, csrf=True, see_other=True, **kwargs):
        """Post a form. A form that succeeded answers 303 See Other (post/redirect/get): the page it names is
        fetched, as a browser (or htmx) does, with the same headers; ``see_other=False`` returns the 303 itself."""
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token)
        response = self.client.post(path, data=data, **kwargs)
        if see_other and response.status_code == 303:
            return self.client.get(response.headers["Location"], headers=kwargs.get("headers"))
        return response


def not_logged_in(app) -> StaffClient:
    """A client nobody has logged in with, holding a valid CSRF token (the login page's): whatever it posts
    is refused for the missing login alone (401), not for the token (400)."""
    client = StaffClient(app)
    client.refresh_token()
    return client


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
