"""A PostgreSQL backend killed under the central store (issue 21, finding 9): the request it was serving is
refused with 503 and one warning line, never a traceback in the log, and the next request works on a new
connection, without a restart. Always on PostgreSQL, whichever database the rest of the run uses."""
import logging

import psycopg2
import pytest

from library_kiosk.central.store.db import database


@pytest.fixture
def central_url(postgres_url):
    """PostgreSQL in every pass (a backend is what is killed): the session's own fresh database."""
    return postgres_url


def _killed_mid_request(monkeypatch, url: str) -> None:
    """The next device listing has its PostgreSQL backend terminated (``pg_terminate_backend`` from another
    connection, as an administrator or a failover would) just before it queries: the query meets a dead
    connection, as a request in flight does when a backend is killed under load."""
    from library_kiosk.central.store import devices

    real = devices.listing

    def listing(*args, **kwargs):
        pid = database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
        killer = psycopg2.connect(url)
        killer.autocommit = True
        with killer.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", (pid,))
        killer.close()
        monkeypatch.setattr(devices, "listing", real)  # once
        return real(*args, **kwargs)

    monkeypatch.setattr(devices, "listing", listing)


def test_a_killed_backend_gives_one_warning_line_and_the_next_request_works(api, central_url, caplog, monkeypatch):
    assert api.get("/api/v1/sync/devices").status_code == 200
    _killed_mid_request(monkeypatch, central_url)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        refused = api.get("/api/v1/sync/devices")
    assert refused.status_code == 503 and refused.json["error"]["code"] == "database_unavailable"
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert [r.getMessage() for r in caplog.records if "database connection lost" in r.getMessage()]
    assert api.get("/api/v1/sync/devices").status_code == 200  # a new connection: no restart needed
