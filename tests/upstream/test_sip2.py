"""The SIP2 back end against two SIP2 servers nobody on this team wrote, both from PyPI:
pysip2's ACS server (strict framing, error detection required) and invenio-sip2's socket
server run standalone (``selfcheck start``) with test callbacks. Each scenario runs against
both (the ``server`` fixture is parametrised); what only one server can show is in
``test_sip2_pysip2.py``."""
import datetime as dt
import gc
import logging
from decimal import Decimal

import pytest

from library_kiosk.central.upstream.base import LoanRef, UpstreamUnavailable
from library_kiosk.central.upstream.sip2.backend import Sip2Upstream
from tests.helpers import TODAY, wait_until  # TODAY: the pinned day
from tests.upstream.sip2_servers import FaultyProxy, start_server
from tests.upstream.sip2_servers import sip2_settings as settings


@pytest.fixture
def sip(server):
    upstream = Sip2Upstream(settings(server.port))
    yield upstream
    upstream.close()


def test_login_and_status_read_the_supported_messages(sip, server):
    supported = sip.supported()
    assert supported["online"] and supported["patron_information"] and supported["renew"]
    assert supported["renew_all"] is server.renews_all
    assert supported["checkout"] and supported["checkin"]  # both test libraries lend (test_sip2_checkout.py)
    assert server.received[0] == "93"  # logged in first
    caps = sip.capabilities().to_dict()
    assert caps["kind"] == "sip2" and caps["renew_all"] and caps["item_info"] and not caps["fee_paid"]


# pysip2 leaves its own server-side socket to the garbage collector after a failed login
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_wrong_login_is_a_clear_unavailable(server, caplog):
    caplog.set_level(logging.INFO, logger="pysip2")
    upstream = Sip2Upstream(settings(server.port, sip2_login_password="wrong"))
    with pytest.raises(UpstreamUnavailable) as raised:
        upstream.supported()
    assert "login" in raised.value.message
    if server.kind == "pysip2":  # served in this process: collect that socket here, where its warning is expected
        wait_until(lambda: any(r.name == "pysip2" and r.getMessage().startswith("connection closed")
                               for r in caplog.records), 5, "pysip2 ends the connection")
        server.server.portal.call(lambda: None)  # one turn of its event loop: the connection's task has ended
    gc.collect()


def test_patron_information_with_lists_and_non_ascii_names(sip, server):
    found = sip.fetch("21000000001", TODAY)
    account = found.account
    assert (account.first_name, account.last_name) == ("Zoë", "Ólafsdóttir")
    assert [(loan.item_barcode, loan.title, loan.due_date) for loan in account.loans] == [
        ("39000000001", "Middlemarch", dt.date(2026, 11, 28)), ("39000000002", "Ulysses", dt.date(2026, 11, 20))]
    assert [loan.requested_by_other for loan in account.loans] == [False, True]  # hold queue on the item
    assert [(r.title, r.ready_for_pickup) for r in account.requests] == [("39000000009", True)]
    assert account.total_owed() == Decimal("2.50")
    assert account.preferred_email == "zoe@example.org"
    assert found.identifiers == (("BARCODE", "21000000001"),)
    assert server.received.count("63") == 3  # charged (with counts), holds, fines
    assert sip.fetch("nobody", TODAY) is None


def test_patron_status_flags_become_plain_reasons(sip):
    account = sip.fetch("21000000002", TODAY).account
    assert (account.first_name, account.last_name) == ("José", "Núñez")
    [block] = account.blocks
    assert block.block_type == "SIP2_RENEWAL_DENIED" and block.status == "ACTIVE"
    assert block.description == "Renewals are not allowed on your account. Please ask at the desk."
    reply = sip.patron_status("21000000002", "1357")
    assert reply.command == "24" and reply.fixed["patron_status"][1] == "Y"
    assert reply.get("AE") == "Núñez, José"


def test_pin_check_and_a_wrong_pin(sip):
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


def test_renew_all_or_its_fallback(sip, server):
    decisions = sip.renew_all("21000000001", [LoanRef(1, "39000000001"), LoanRef(2, "39000000002")], TODAY)
    assert [(d.renewed, d.reason) for d in decisions] == [(True, ""), (False, "requested")]
    assert decisions[0].new_due_date == dt.date(2026, 12, 16)
    if server.renews_all:
        assert "65" in server.received and "29" not in server.received
    else:  # the server's status message says 65 is not there: one by one
        assert "65" not in server.received and server.received.count("29") == 2


def test_end_session(sip, server):
    assert sip.end_session("21000000001")
    assert server.received[-1] == "35"


def test_checksum_errors_are_recovered_both_ways(server, proxy):
    upstream = Sip2Upstream(settings(proxy.port))
    try:
        upstream.supported()
        proxy.corrupt_next_request = True  # the server answers 96: we send it again
        assert upstream.end_session("21000000001")
        proxy.corrupt_next_answer = True  # we see a bad checksum: we ask again with 97
        assert upstream.end_session("21000000001")
        assert upstream.end_session("21000000001")  # and the conversation goes on in sequence
        assert server.received.count("35") == 3
    finally:
        upstream.close()


def test_a_resend_request_carries_no_sequence_number(server, proxy):
    """The specification's 97: ``97AZFEF5``, no AY, even with error detection on (issue 14)."""
    upstream = Sip2Upstream(settings(proxy.port))
    try:
        upstream.supported()
        proxy.corrupt_next_answer = True
        assert upstream.end_session("21000000001")
        assert b"97AZFEF5\r" in proxy.requests and b"97AY" not in proxy.requests
    finally:
        upstream.close()


def test_a_server_that_switches_error_detection_off_is_followed():
    """A server that resends our answer without AY/AZ has turned error detection off: its answer is taken,
    and so are those after it, instead of asking three times and failing (issue 14). pysip2's server behind a
    proxy that strips AY/AZ plays it (invenio-sip2 resends without a line terminator, which a server without
    error detection could not frame at all)."""
    server = start_server("pysip2")
    proxy = FaultyProxy(server.port)
    upstream = Sip2Upstream(settings(proxy.port))
    try:
        upstream.supported()
        proxy.corrupt_next_answer = True
        proxy.strip_error_detection = True  # the resend, and every answer after it, without AY/AZ
        assert upstream.end_session("21000000001")
        assert upstream.end_session("21000000001")
        assert server.received.count("35") == 2
    finally:
        upstream.close()
        proxy.stop()
        server.stop()


def test_a_garbled_conversation_closes_its_connection(server, proxy):
    """Three bad answers in a row: an UpstreamError, and the connection is closed at once, never reused."""
    from library_kiosk.central.upstream.base import UpstreamError

    upstream = Sip2Upstream(settings(proxy.port))
    try:
        upstream.supported()
        accepted = proxy.accepted
        proxy.corrupt_every_answer = True
        with pytest.raises(UpstreamError):
            upstream.end_session("21000000001")
        proxy.corrupt_every_answer = False
        assert upstream.end_session("21000000001")
        assert proxy.accepted == accepted + 1  # a new connection, not the garbled one
    finally:
        upstream.close()


def test_a_dropped_connection_is_reopened(server, proxy):
    upstream = Sip2Upstream(settings(proxy.port))
    try:
        upstream.supported()
        proxy.drop_all()
        assert upstream.end_session("21000000001")
        assert proxy.accepted == 2 and server.received.count("93") == 2  # reconnected and logged in again
    finally:
        upstream.close()


def test_server_down_is_unavailable(server):
    port = server.port
    server.stop()
    with pytest.raises(UpstreamUnavailable):
        Sip2Upstream(settings(port)).fetch("21000000001", TODAY)


@pytest.mark.parametrize(("personal_name", "first", "last"), [
    ("Ólafsdóttir, Zoë", "Zoë", "Ólafsdóttir"),  # "Last, First": split at the first comma
    ("Smith, Mary Ann", "Mary Ann", "Smith"),
    ("Mary Ann Smith", "", "Mary Ann Smith"),  # no rule says where this splits: kept whole
    ("  Prince  ", "", "Prince"),
    ("", "", ""),
])
def test_the_personal_name_is_split_only_in_the_last_first_form(personal_name, first, last):
    from library_kiosk.central.upstream.sip2.backend import split_name

    assert split_name(personal_name) == (first, last)
