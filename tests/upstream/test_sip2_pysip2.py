"""The SIP2 back end against pysip2's ACS server (PyPI ``pysip2``), strict framing."""
import datetime as dt
import gc
import time
from decimal import Decimal

import pytest

from tests.upstream.sip2_servers import FaultyProxy, Library, PysipILS, pysip2_app
from upstream.base import LoanRef, UpstreamUnavailable
from upstream.sip2.backend import Sip2Upstream
from upstream.sip2.client import checksum

TODAY = dt.date(2026, 11, 25)


def settings(port, **more):
    return {"kind": "sip2", "sip2_host": "127.0.0.1", "sip2_port": port, "sip2_login_user": "kiosk",
            "sip2_login_password": "s3cret", "sip2_institution_id": "MAIN", "sip2_timeout_seconds": 3,
            "sip2_pool_size": 2, **more}


@pytest.fixture
def library():
    return Library()


@pytest.fixture
def ils(library):
    server = PysipILS(pysip2_app(library, error_detection="required"))
    yield server
    server.stop()


@pytest.fixture
def sip(ils):
    upstream = Sip2Upstream(settings(ils.port))
    yield upstream
    upstream.close()


def test_checksum_matches_pysip2():
    from pysip2 import calculate_checksum

    frame = "9300CNkiosk|COs3cret|CP|AY0AZ".encode()
    assert checksum(frame) == calculate_checksum(frame)


def test_login_and_status_read_the_supported_messages(sip, library):
    supported = sip.supported()
    assert supported["patron_information"] and supported["renew"] and supported["renew_all"]
    assert not supported["checkout"]  # no checkout route registered on this server
    assert library.received[:1] == ["93"]  # logged in first
    caps = sip.capabilities().to_dict()
    assert caps["kind"] == "sip2" and caps["renew_all"] and caps["item_info"] and not caps["fee_paid"]


# pysip2 leaves its own server-side socket to the garbage collector after a failed login
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_wrong_login_is_a_clear_unavailable(ils):
    upstream = Sip2Upstream(settings(ils.port, sip2_login_password="wrong"))
    with pytest.raises(UpstreamUnavailable) as raised:
        upstream.supported()
    assert "login" in raised.value.message
    time.sleep(0.1)
    gc.collect()


def test_patron_information_with_lists_and_non_ascii_names(sip, library):
    found = sip.fetch("21000000001", TODAY)
    account = found.account
    assert (account.first_name, account.last_name) == ("Zoë", "Ólafsdóttir")
    assert [(loan.item_barcode, loan.title, loan.due_date) for loan in account.loans] == [
        ("39000000001", "Middlemarch", dt.date(2026, 11, 28)), ("39000000002", "Ulysses", dt.date(2026, 11, 20))]
    assert account.loans[1].requested_by_other  # hold queue on the item
    assert [(r.title, r.ready_for_pickup) for r in account.requests] == [("39000000009", True)]
    assert account.total_owed() == Decimal("2.50")
    assert account.preferred_email == "zoe@example.org"
    assert found.identifiers == (("BARCODE", "21000000001"),)
    assert library.received.count("63") == 3  # charged (with counts), holds, fines
    assert sip.fetch("nobody", TODAY) is None


def test_patron_status_flags_become_plain_reasons(sip):
    account = sip.fetch("21000000002", TODAY).account
    [block] = account.blocks
    assert block.block_type == "SIP2_RENEWAL_DENIED" and block.status == "ACTIVE"
    assert block.description == "Renewals are not allowed on your account. Please ask at the desk."
    reply = sip.patron_status("21000000002", "1357")
    assert reply.fixed["patron_status"][1] == "Y" and reply.get("CQ") == "Y"


def test_pin_check(sip):
    assert sip.verify_pin("21000000001", "2468")
    assert not sip.verify_pin("21000000001", "0000")  # wrong PIN
    assert not sip.verify_pin("21000000001", "")  # a blank PIN is never accepted
    assert not sip.verify_pin("nobody", "2468")


def test_renew_one_and_refusals(sip):
    ok, held = sip.renew("21000000001", [LoanRef(1, "39000000001"), LoanRef(2, "39000000002")], TODAY)
    assert ok.renewed and ok.new_due_date == dt.date(2026, 12, 16)
    assert (held.renewed, held.reason) == (False, "requested")
    [denied] = sip.renew("21000000002", [LoanRef(3, "39000000003")], TODAY)
    assert denied.reason == "renewals_denied"
    assert denied.message == "Renewals are not allowed on your account. Please ask at the desk."


def test_renew_all_uses_65(sip, library):
    decisions = sip.renew_all("21000000001", [LoanRef(1, "39000000001"), LoanRef(2, "39000000002")], TODAY)
    assert [(d.renewed, d.reason) for d in decisions] == [(True, ""), (False, "requested")]
    assert decisions[0].new_due_date == dt.date(2026, 12, 16)
    assert "65" in library.received and "29" not in library.received


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


def test_end_session(sip):
    assert sip.end_session("21000000001")


def test_checksum_errors_are_recovered_both_ways(ils, library):
    proxy = FaultyProxy(ils.port)
    try:
        upstream = Sip2Upstream(settings(proxy.port))
        upstream.supported()
        proxy.corrupt_next_request = True  # the server answers 96: we send it again
        assert upstream.end_session("21000000001")
        proxy.corrupt_next_answer = True  # we see a bad checksum: we ask again with 97
        assert upstream.end_session("21000000001")
        assert library.received.count("35") == 2
    finally:
        proxy.stop()


def test_a_dropped_connection_is_reopened(ils, library):
    proxy = FaultyProxy(ils.port)
    try:
        upstream = Sip2Upstream(settings(proxy.port))
        upstream.supported()
        proxy.drop_all()
        assert upstream.end_session("21000000001")
        assert proxy.accepted == 2 and library.received.count("93") == 2  # reconnected and logged in again
    finally:
        proxy.stop()


def test_the_ils_dropping_an_idle_connection(library):
    server = PysipILS(pysip2_app(library, idle_timeout=0.3))
    try:
        upstream = Sip2Upstream(settings(server.port))
        assert upstream.end_session("21000000001")
        time.sleep(0.6)  # the server has closed the idle connection by now
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


def test_server_down_is_unavailable(library):
    server = PysipILS(pysip2_app(library))
    port = server.port
    server.stop()
    with pytest.raises(UpstreamUnavailable):
        Sip2Upstream(settings(port)).fetch("21000000001", TODAY)
