"""Plain helpers the test modules import (the fixtures are in tests/conftest.py, which uses these too):
the pinned day, the database backend, device clients and patrons' visits, a live server in a thread, Chromium's
environment and screenshots, free ports, the real reader service in a subprocess, and waiting for a condition."""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time

from werkzeug.serving import WSGIRequestHandler, make_server

TODAY = dt.date(2026, 11, 25)  # the pinned day: every test runs on it (the ``pinned_day`` fixture)
BACKEND = os.environ.get("KIOSK_TEST_DB", "sqlite")

NO_TOKEN = {"Authorization": ""}  # a request header that takes the default device token away


def device_client(app, token: str):
    """A test client of the central ``app`` that sends ``token`` as its device token on every request
    (every central route but /health, the OpenAPI document and enrolment needs one: central/auth.py).
    A request's own ``Authorization`` header replaces it."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


VISIT = "X-Kiosk-Visit"  # the header naming a patron's visit at a kiosk (library_kiosk/central/store/visits.py)


def open_visit(client, primary_id: str, pin: str = "2468") -> str:
    """A patron's visit at the kiosk whose token ``client`` (``device_client``) sends, opened the way a kiosk opens
    one: the card read at the central store (``POST /api/v1/patrons/refresh``; here by the primary id, which it
    finds too), then, when the patron's group asks for a PIN, the PIN checked there with that visit. The id, for
    the ``X-Kiosk-Visit`` header (``visit_header``) or an operation's ``"visit"``."""
    read = client.post("/api/v1/patrons/refresh", query_string={"identifier": primary_id})
    assert read.status_code == 200, read.json
    visit = read.json["visit"]
    if read.json["account"]["policy"]["pin_required"]:
        checked = client.post(f"/api/v1/patrons/{primary_id}/verify-pin", json={"pin": pin, "visit": visit})
        assert checked.status_code == 200 and checked.json["ok"] and checked.json["visit"] == visit, checked.json
    return visit


def visit_header(visit: str) -> dict:
    return {VISIT: visit}


def visiting(client, primary_id: str, pin: str = "2468"):
    """``client``, sending from now on the patron's visit (``open_visit``) with every request (a request's own
    ``X-Kiosk-Visit`` header replaces it); returns the client."""
    client.environ_base["HTTP_X_KIOSK_VISIT"] = open_visit(client, primary_id, pin)
    return client


def pass_time(**delta) -> None:
    """Move the product's clock on (``timedelta`` keywords): a test never sleeps for time to pass. The
    ``pinned_day`` fixture (tests/conftest.py) puts the clock back after each test."""
    from library_kiosk.domain import clock

    clock.set_offset(clock.offset() + dt.timedelta(**delta))


class _ClosesDroppedAnswers(WSGIRequestHandler):
    """werkzeug's development server skips the answer's ``close()`` when the browser drops the connection while
    the server drains the request (``execute``'s ``finally`` raises first): a static file's handle is then left to
    the garbage collector, a ResourceWarning that fails whichever test is running. Chromium drops the favicon
    request whenever a page navigates on. This handler closes the answer itself on a dropped connection."""

    def connection_dropped(self, error, environ=None):
        close = (environ or {}).get("tests.close_answer")
        if close is not None:
            close()


def _remembers_close(app):
    def wsgi(environ, start_response):
        answer = app(environ, start_response)
        if hasattr(answer, "close"):
            environ["tests.close_answer"] = answer.close
        return answer
    return wsgi


class LiveServer:
    """A real HTTP server on a free loopback port, serving a WSGI app in a thread."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, _remembers_close(app), threaded=True,
                                  request_handler=_ClosesDroppedAnswers)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(5)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]
ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "test-artifacts")


def browser_env() -> dict:
    """The environment for Chromium: ours, less libfaketime's (``make test-at`` moves the clock of the product's
    processes; Chromium does not start under libfaketime, and only its page timers read its clock)."""
    return {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}


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


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 60.0) -> None:
    """Wait until something listens on loopback ``port``; fail at once if ``process`` (what should) exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process exited early with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listened on port {port} within {seconds} s")


def wait_until(condition, seconds: float, what: str, every: float = 0.05):
    """Poll ``condition`` until it returns something true, and return that; fail, saying ``what`` was awaited,
    if ``seconds`` pass first. For waiting on something no event announces (a file, a row, another process)."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(every)


def mail_received(smtp_server, count: int = 1) -> list:
    """The messages the test SMTP server (the ``smtp_server`` fixture) has received, which must be ``count``.

    Nothing to wait for: the product sends a letter before it answers the request that sends it (the central
    store's letters, library_kiosk/central/store/letters.py: ``send_letter`` at once, ``send_queued`` after the
    commit and before the answer), and aiosmtpd's ``Message`` handler keeps a message before it acknowledges
    it. So once that request has returned, its mail is here, and mail that is not here is not coming."""
    messages = smtp_server.handler.messages
    assert len(messages) == count, f"{len(messages)} messages received, not {count}: {[m['Subject'] for m in messages]}"
    return messages


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

    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError("the reader service exited at start")
        try:
            reader_client.status(url)
            return True
        except reader_client.ServiceError:
            return False

    try:
        wait_until(answers, 20, "the reader service answers", every=0.1)
    except (AssertionError, RuntimeError):
        process.kill()
        raise RuntimeError("the reader service did not start") from None
    try:
        yield url
    finally:
        process.terminate()
        process.wait(10)
