"""Shared fixtures: a fresh central database (SQLite or PostgreSQL), apps, clients,
live servers and a pinned day.

``KIOSK_TEST_DB=postgres`` runs the database tests against the PostgreSQL server
at ``KIOSK_TEST_PG`` (default ``postgresql://127.0.0.1:5432/test``): the session
creates its own database and drops it at the end. If the server is missing, the
tests fail; they never skip.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest
from werkzeug.serving import make_server

from library_kiosk import settings
from library_kiosk.central.store import schema
from library_kiosk.domain import clock

pytest_plugins = ["tests.reaper"]  # every process the run starts ends with it

TODAY = dt.date(2026, 11, 25)
BACKEND = os.environ.get("KIOSK_TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get("KIOSK_TEST_PG", "postgresql://127.0.0.1:5432/test")


def pytest_collection_modifyitems(items):
    for item in items:
        if "central_db" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


def pytest_configure(config):
    config.addinivalue_line("markers", "db: uses the central database (run on SQLite and PostgreSQL)")


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    import psycopg2

    name = f"kiosk_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=5)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.close()


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
        "kiosk": {"cache_url": f"sqlite:///{tmp_path}/kiosk-cache.db", "identifier_key": "test-key",
                  "secret_key": "test-secret"},
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


NO_TOKEN = {"Authorization": ""}  # a request header that takes the default device token away


def device_client(app, token: str):
    """A test client of the central ``app`` that sends ``token`` as its device token on every request
    (every central route but /health, the OpenAPI document and enrolment needs one: central/auth.py).
    A request's own ``Authorization`` header replaces it."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.fixture
def api(central_app, device_token):
    """The central API's test client, as the enrolled kiosk ``kiosk-1`` (``device_token``)."""
    return device_client(central_app, device_token)


class LiveServer:
    """A real HTTP server on a free loopback port, serving a WSGI app in a thread."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(5)


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


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]
ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "test-artifacts")


def browser_env() -> dict:
    """The environment for Chromium: ours, less libfaketime's (``make test-at`` moves the clock of the product's
    processes; Chromium does not start under libfaketime, and only its page timers read its clock)."""
    return {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}


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


def screenshot(page, area: str, name: str) -> str:
    """Save a screenshot under test-artifacts/AREA/ for people to review."""
    folder = os.path.join(ARTIFACTS, area)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{name}.png")
    page.screenshot(path=path, full_page=True)
    return path


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


@contextlib.contextmanager
def reader_service_process(folder, reader_name: str):
    """The real reader service (``python -m hardware.service``) with one simulated reader; its URL."""
    from hardware import client as reader_client

    port = free_port()
    path = folder / "readers.toml"
    path.write_text(f'[readers]\nservice_url = "http://127.0.0.1:{port}"\ndebounce_seconds = 0.0\n'
                    f'devices = [{{type = "simulator", name = "{reader_name}"}}]\n')
    process = subprocess.Popen([sys.executable, "-m", "hardware.service", "--config", str(path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            reader_client.status(url)
            break
        except reader_client.ServiceError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("the reader service did not start") from None
            time.sleep(0.1)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(10)
