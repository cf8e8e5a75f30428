"""Shared fixtures: a fresh central database (SQLite or PostgreSQL), apps, clients,
live servers, a pinned day, Chromium, an SMTP server, and the provisioning station with
its staff users. The plain helpers test modules import (the pinned day ``TODAY``,
``LiveServer``, ``device_client``, ``free_port``, ``wait_until``...) are in tests/helpers.py.

``KIOSK_TEST_DB=postgres`` runs the database tests against the PostgreSQL server
at ``KIOSK_TEST_PG`` (default ``postgresql://127.0.0.1:5432/test``): the session
creates its own database and drops it at the end. If the server is missing, the
tests fail; they never skip.
"""
from __future__ import annotations

import contextlib
import os
import uuid

import pytest

pytest.register_assert_rewrite(  # the plain helper modules the tests import: their asserts explain themselves
    "tests.helpers", "tests.kiosk.helpers", "tests.kiosk.browser.helpers", "tests.provisioning.helpers",
    "tests.deploy.helpers", "tests.hardware.service_process")

from library_kiosk import settings  # noqa: E402  (after the assert-rewrite registration)
from library_kiosk.central.store import schema  # noqa: E402
from library_kiosk.domain import clock  # noqa: E402
from tests.helpers import (  # noqa: E402  (helpers for the fixtures below; test modules import them from there)
    BACKEND,
    CHROMIUM,
    CHROMIUM_ARGS,
    TODAY,
    LiveServer,
    browser_env,
    device_client,
    free_port,
)

pytest_plugins = ["tests.reaper"]  # every process the run starts ends with it

PG_ADMIN_URL = os.environ.get("KIOSK_TEST_PG", "postgresql://127.0.0.1:5432/test")


def pytest_collection_modifyitems(items):
    for item in items:
        if "central_db" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


def pytest_configure(config):
    config.addinivalue_line("markers", "db: uses the central database (run on SQLite and PostgreSQL)")


@contextlib.contextmanager
def fresh_postgres_database(prefix: str = "kiosk_test"):
    """The URL of a new, empty PostgreSQL database on the test server, dropped afterwards (its sessions ended)."""
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=5)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                "AND pid <> pg_backend_pid()", (name,))
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def central_url(tmp_path, request):
    if BACKEND == "postgres":
        return request.getfixturevalue("postgres_url")
    if BACKEND != "sqlite":
        raise RuntimeError(f"KIOSK_TEST_DB must be sqlite or postgres, not {BACKEND!r}")
    return f"sqlite:///{tmp_path}/central.db"


@pytest.fixture
def central_db(central_url):
    """The store's models bound to an empty central database."""
    db = schema.init(central_url)
    if BACKEND == "postgres":
        tables = ", ".join(f'"{name}"' for name in db.get_tables())  # the store's and any upstream connector's
        db.execute_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    db.connect(reuse_if_open=True)
    yield db
    if not db.is_closed():
        db.close()


@pytest.fixture
def config(tmp_path, central_url):
    return settings.load(environ={}, overrides={
        "data_dir": str(tmp_path / "data"),
        "central": {"database_url": central_url},
        "kiosk": {"cache_url": f"sqlite:///{tmp_path}/kiosk-cache.db", "secret_key": "test-secret"},
        "readers": {"service_url": "http://127.0.0.1:9"},
    })


@pytest.fixture(autouse=True)
def pinned_day(monkeypatch):
    """Every test runs on ``TODAY``: the product's one clock (domain/clock.py) reads noon local time on that day
    and ticks on from there, whatever the real date; so do the processes a test starts (``KIOSK_CLOCK_DAY``), so
    that a central store in a subprocess decides on the same day as the data the test made."""
    monkeypatch.setenv(clock.ENVIRONMENT, TODAY.isoformat())
    with clock.shifted_to(TODAY):
        yield


@pytest.fixture
def today():
    return TODAY


@pytest.fixture
def central_app(central_db, config):
    from library_kiosk.central import api as central

    return central.create_app(config, today=lambda: TODAY)


@pytest.fixture
def api(central_app, device_token):
    """The central API's test client, as the enrolled kiosk ``kiosk-1`` (``device_token``)."""
    return device_client(central_app, device_token)


@pytest.fixture
def live_central(central_app):
    server = LiveServer(central_app)
    yield server
    server.stop()


@pytest.fixture
def device_token(central_db):
    """A kiosk device enrolled at the central store (store/devices.py); its token."""
    from library_kiosk.central.store import devices

    _name, token = devices.enrol(devices.add("kiosk-1", replace=True))  # the default [kiosk] device_name
    return token


@pytest.fixture
def kiosk_app(config, live_central, device_token):
    import kiosk
    from kiosk.devices import credential_path, save_credential

    config["kiosk"]["central_url"] = live_central.url
    save_credential(credential_path(config), {"device": "kiosk-1", "token": device_token,
                                              "central_url": live_central.url})
    return kiosk.create_app(config, today=lambda: TODAY)


@pytest.fixture
def synced_kiosk(kiosk_app):
    """The kiosk app with its cache filled from the central store."""
    from kiosk import sync
    from kiosk.cache import cache_db

    with cache_db.connection_context():
        sync.pull(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"])
    return kiosk_app


@pytest.fixture(scope="session")
def browser():
    """Real Chromium (Debian's /usr/bin/chromium) driven by Playwright, one per test session."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium package (make test does)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=browser_env())
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free port; ``.handler.messages`` holds what it received."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    class Keep(Message):
        def __init__(self):
            super().__init__()
            self.messages = []

        def handle_message(self, message):
            self.messages.append(message)

    controller = Controller(Keep(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def station_config(config, smtp_server):
    """Settings for the provisioning station: mail to the test SMTP server, a secret key."""
    config["mail"].update(host="127.0.0.1", port=smtp_server.port, from_address="library@example.org")
    config["provisioning"]["secret_key"] = "station-test-secret"
    return config


@pytest.fixture
def station(central_db, station_config):
    """The provisioning station's app, with three user groups and a staff user of each role
    (tests/provisioning/helpers.py: ``PASSWORDS``, ``StaffClient``). Here rather than in tests/provisioning,
    because the upstream tests put the station in front of Alma (by overriding ``station_config``)."""
    import provisioning
    from library_kiosk.central.store import staff
    from tests.provisioning.helpers import PASSWORDS, ROLES
    from tests.store import factories

    factories.group("25")
    factories.group("58", description="Library Guest", pin_required=False, registration_fee_type="MEMBERSHIP",
                    registration_fee_amount="10.00")
    factories.group("59", description="Visiting Researcher", statistics_required=True)
    for name, role in ROLES.items():
        staff.create_staff(name, PASSWORDS[name], role)
    return provisioning.create_app(station_config, today=lambda: TODAY)


@pytest.fixture
def manager(station):
    """The station's user manager, logged in."""
    from tests.provisioning.helpers import StaffClient

    return StaffClient(station, "manager")


@pytest.fixture
def desk(station):
    """The station's circulation (desk) user, logged in."""
    from tests.provisioning.helpers import StaffClient

    return StaffClient(station, "desk")
