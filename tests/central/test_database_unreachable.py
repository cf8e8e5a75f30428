"""A central store whose database cannot be reached at start stays up instead of crash-looping under systemd: every
API request answers 503 ``database_unavailable`` (kiosks already take it as "try again later"), /health stays 200
and says the database is unreachable, the log has one line saying so, and once the database answers the store
opens by itself, without a restart. Real processes (``kiosk central serve`` under gunicorn) and the real PostgreSQL
server, reached through a TCP relay (``FaultyProxy``) that refuses until it is pointed at the server."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from urllib.parse import urlparse

import pytest

from tests.conftest import PG_ADMIN_URL, fresh_postgres_database
from tests.helpers import free_port, wait_until
from tests.reaper import stop
from tests.upstream.sip2_servers import FaultyProxy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PASSWORD = "not-for-the-log-7"


def get(url: str) -> tuple[int, str]:
    """The status and text of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class Central:
    """``kiosk central serve`` (one worker) on a free port over ``database_url``, its output in ``log``."""

    def __init__(self, folder, database_url: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "central.log"
        env = {**os.environ, "KIOSK_CONFIG": "", "KIOSK_DATA_DIR": str(folder / "data"), "PYTHONPATH": ROOT,
               "KIOSK_CENTRAL_DATABASE_URL": database_url, "KIOSK_CENTRAL_PORT": str(self.port)}
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "library_kiosk", "central", "serve", "--workers", "1"], env=env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self._answers, 60, "the central store answers /health")

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the central store exited with {self.process.returncode}: {self.log.read_text()}")
        try:
            return get(self.url + "/health")[0] == 200
        except OSError:
            return False

    def workers(self) -> list[int]:
        """The gunicorn workers' process ids (a restarted worker has a new one)."""
        with open(f"/proc/{self.process.pid}/task/{self.process.pid}/children") as children:
            return [int(pid) for pid in children.read().split()]

    def stop(self) -> None:
        stop(self.process)


@pytest.fixture(scope="module")
def closed_url():
    """A PostgreSQL URL, with a password, at a port where nothing listens."""
    return f"postgresql://kiosk:{PASSWORD}@127.0.0.1:{free_port()}/kiosk"


@pytest.fixture(scope="module")
def away(tmp_path_factory, closed_url):
    """The central store started while its database refuses every connection."""
    central = Central(tmp_path_factory.mktemp("away"), closed_url)
    yield central
    central.stop()


def test_an_api_request_answers_503_database_unavailable(away):
    status, body = get(away.url + "/api/v1/sync/devices")
    assert (status, json.loads(body)["error"]["code"]) == (503, "database_unavailable")


def test_health_stays_200_and_says_the_database_is_unreachable(away):
    status, body = get(away.url + "/health")
    assert (status, json.loads(body)["database"]) == (200, "unreachable")


def test_the_log_says_once_which_database_and_what_to_do_without_a_traceback(away, closed_url):
    get(away.url + "/api/v1/sync/devices")  # (a request refused logs nothing more)
    text = away.log.read_text()
    lines = [line for line in text.splitlines() if "cannot be reached" in line]
    assert (len(lines), f"127.0.0.1:{urlparse(closed_url).port}" in lines[0], "[central] database_url" in lines[0],
            PASSWORD in text, "Traceback" in text) == (1, True, True, False, False)


@pytest.fixture
def database():
    with fresh_postgres_database("kiosk_central_away") as url:
        yield url


def test_the_store_opens_once_its_database_answers_without_a_restart(tmp_path, database):
    relay = FaultyProxy(free_port())  # relays to a closed port: every connection is refused
    central = Central(tmp_path, database.replace(f":{urlparse(database).port}/", f":{relay.port}/"))
    try:
        before, workers = get(central.url + "/api/v1/sync/devices")[0], central.workers()
        relay.target_port = urlparse(PG_ADMIN_URL).port  # the database answers from now on
        # without a device token: 401 once the store is open (auth reads the database), 503 until then
        wait_until(lambda: get(central.url + "/api/v1/sync/devices")[0] != 503, 60, "the store opens")
        after = get(central.url + "/api/v1/sync/devices")[0]
        assert (before, after, central.process.poll(), central.workers() == workers) == (503, 401, None, True)
    finally:
        central.stop()
        relay.stop()
