"""What only pysip2's ACS server (PyPI ``pysip2``) shows: its checksum, the same server with and without
renew all, an ILS closing idle connections, a code page other than UTF-8. The scenarios that run against
both pysip2 and invenio-sip2 are in ``test_sip2.py``."""
import select
import socket

import pytest

from library_kiosk.central.upstream.base import LoanRef
from library_kiosk.central.upstream.sip2.backend import Sip2Upstream
from library_kiosk.central.upstream.sip2.client import checksum
from tests.helpers import TODAY  # the pinned day
from tests.upstream.sip2_servers import Library, PysipILS, pysip2_app


def settings(port, **more):
    return {"kind": "sip2", "sip2_host": "127.0.0.1", "sip2_port": port, "sip2_login_user": "kiosk",
            "sip2_login_password": "s3cret", "sip2_institution_id": "MAIN", "sip2_timeout_seconds": 3,
            "sip2_pool_size": 2, **more}


@pytest.fixture
def library():
    return Library()


def test_checksum_matches_pysip2():
    from pysip2 import calculate_checksum

    frame = b"9300CNkiosk|COs3cret|CP|AY0AZ"
    assert checksum(frame) == calculate_checksum(frame)


def test_renew_all_falls_back_to_one_by_one(library):
    server = PysipILS(pysip2_app(library, renew_all=False))
    try:
        upstream = Sip2Upstream(settings(server.port))
        assert not upstream.supported()["renew_all"]
        assert upstream.capabilities().renew_all  # still offered: the central store renews one by one
        decisions = upstream.renew_all("21000000001", [LoanRef(1, "39000000001"), LoanRef(2, "39000000002")],
                                       TODAY)
        assert [d.renewed for d in decisions] == [True, False]
        assert "65" not in library.received and library.received.count("29") == 2
    finally:
        server.stop()


def test_the_ils_dropping_an_idle_connection(library):
    server = PysipILS(pysip2_app(library, idle_timeout=0.3))
    try:
        upstream = Sip2Upstream(settings(server.port))
        assert upstream.end_session("21000000001")
        pooled = upstream.pool.idle.queue[-1].sock  # the connection the next call will reuse
        assert select.select([pooled], [], [], 5)[0], "the ILS did not close the idle connection"
        assert pooled.recv(1, socket.MSG_PEEK) == b""  # closed by the ILS (read without taking it)
        assert upstream.end_session("21000000001")
    finally:
        server.stop()


def test_code_page_other_than_utf8(library):
    server = PysipILS(pysip2_app(library, encoding="cp850"))
    try:
        upstream = Sip2Upstream(settings(server.port, sip2_encoding="cp850", sip2_error_detection=False))
        account = upstream.fetch("21000000002", TODAY).account
        assert (account.first_name, account.last_name) == ("José", "Núñez")
    finally:
        server.stop()
