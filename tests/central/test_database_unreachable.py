"""A central store whose database cannot be reached at start stays up instead of crash-looping under systemd: every
API request answers 503 ``database_unavailable`` (kiosks already take it as "try again later"), /health stays 200
and says the database is unreachable, the log has one line saying so, and once the database answers the store
opens by itself, without a restart. Real processes (``kiosk central serve`` under gunicorn) and the real PostgreSQL
server, reached through a TCP relay (``FaultyProxy``) that refuses until it is pointed at the server."""
from __future__ import annotations

import json
from urllib.parse import urlparse

import pytest

from tests.conftest import PG_ADMIN_URL, fresh_postgres_database
from tests.helpers import free_port, wait_until
from tests.served_app import ServedApp, get
from tests.upstream.sip2_servers import FaultyProxy

PASSWORD = "not-for-the-log-7"


def served_central(folder, database_url: str) -> ServedApp:
    """``kiosk central serve`` (one worker) on a free port over ``database_url``."""
    return ServedApp("central", folder, database_url, ("--workers", "1"))


@pytest.fixture(scope="module")
def closed_url():
    """A PostgreSQL URL, with a password, at a port where nothing listens."""
    return f"postgresql://kiosk:{PASSWORD}@127.0.0.1:{free_port()}/kiosk"


@pytest.fixture(scope="module")
def away(tmp_path_factory, closed_url):
    """The central store started while its database refuses every connection."""
    central = served_central(tmp_path_factory.mktemp("away"), closed_url)
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
    central = served_central(tmp_path, database.replace(f":{urlparse(database).port}/", f":{relay.port}/"))
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
