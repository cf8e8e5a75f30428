"""A station whose patron database cannot be reached at start (not configured yet, the network down, PostgreSQL
restarting) stays up instead of crash-looping under systemd: every page answers 503 with the station's page saying
which database and what to do, /health stays 200 (the watchdog keeps seeing a live app) and says the database is
unreachable, the log has one line saying so, and ``kiosk doctor`` fails saying why. Once the database answers the
station opens by itself, without a restart. Real processes (``kiosk provisioning serve`` under gunicorn) and the
real PostgreSQL server; the recovering database is reached through a TCP relay (``FaultyProxy``) that refuses until
it is pointed at the server."""
from __future__ import annotations

import json
from urllib.parse import urlparse

import pytest

from library_kiosk.appliance import doctor
from tests.conftest import PG_ADMIN_URL, fresh_postgres_database
from tests.helpers import free_port, wait_until
from tests.served_app import ServedApp, get
from tests.upstream.sip2_servers import FaultyProxy

PASSWORD = "not-for-the-log-7"
PAGE_WORDS = "The patron database cannot be reached"


class Station(ServedApp):
    """``kiosk provisioning serve`` on a free port over ``database_url``."""

    def __init__(self, folder, database_url: str):
        super().__init__("provisioning", folder, database_url)

    def config(self, database_url: str) -> dict:
        """The settings ``kiosk doctor`` reads on this station's box."""
        return {"provisioning": {"host": "127.0.0.1", "port": self.port}, "central": {"database_url": database_url}}


@pytest.fixture(scope="module")
def closed_url():
    """A PostgreSQL URL, with a password, at a port where nothing listens."""
    return f"postgresql://kiosk:{PASSWORD}@127.0.0.1:{free_port()}/kiosk"


@pytest.fixture(scope="module")
def away(tmp_path_factory, closed_url):
    """The station started while its database refuses every connection."""
    station = Station(tmp_path_factory.mktemp("away"), closed_url)
    yield station
    station.stop()


@pytest.mark.parametrize("path", ["/", "/login"])
def test_every_page_answers_503_saying_which_database_cannot_be_reached(away, closed_url, path):
    status, page = get(away.url + path)
    where = f"127.0.0.1:{urlparse(closed_url).port}"
    assert (status, PAGE_WORDS in page, where in page, 'id="screen"' in page) == (503, True, True, True)


def test_the_page_tells_it_where_the_setting_is(away):
    assert "/etc/kiosk/kiosk.toml" in get(away.url + "/login")[1]


def test_the_page_has_the_station_s_styles(away):
    status, _css = get(away.url + "/static/station.css")
    assert status == 200


def test_health_stays_200_and_says_the_database_is_unreachable(away):
    status, body = get(away.url + "/health")
    assert (status, json.loads(body)["database"]) == (200, "unreachable")


def test_the_log_says_once_which_database_why_and_what_to_do_without_a_traceback(away, closed_url):
    get(away.url + "/login")  # (a page asked for logs nothing more)
    text = away.log.read_text()
    lines = [line for line in text.splitlines() if "cannot be reached" in line]
    assert (len(lines), f"127.0.0.1:{urlparse(closed_url).port}" in lines[0], "Connection refused" in lines[0],
            "[central] database_url" in lines[0], "Traceback" in text) == (1, True, True, True, False)


def test_the_password_is_neither_logged_nor_shown(away):
    assert PASSWORD not in away.log.read_text() + get(away.url + "/login")[1]


def test_doctor_fails_saying_the_station_cannot_reach_its_database(away, closed_url):
    check = doctor.check_station_database(away.config(closed_url))
    assert (check.status, "cannot reach its patron database" in check.finding,
            "[central] database_url" in check.fix) == ("FAIL", True, True)


@pytest.fixture
def database():
    with fresh_postgres_database("kiosk_station_away") as url:
        yield url


def test_the_station_opens_once_its_database_answers_without_a_restart(tmp_path, database):
    relay = FaultyProxy(free_port())  # relays to a closed port: every connection is refused
    station = Station(tmp_path, database.replace(f":{urlparse(database).port}/", f":{relay.port}/"))
    try:
        before, workers = get(station.url + "/login")[0], station.workers()
        relay.target_port = urlparse(PG_ADMIN_URL).port  # the database answers from now on
        wait_until(lambda: get(station.url + "/login")[0] == 200, 60, "the login page answers")
        assert (before, station.process.poll(), station.workers() == workers) == (503, None, True)
    finally:
        station.stop()
        relay.stop()


def test_doctor_passes_once_the_station_reaches_its_database(tmp_path, database):
    station = Station(tmp_path, database)
    try:
        assert doctor.check_station_database(station.config(database)).status == "PASS"
    finally:
        station.stop()
