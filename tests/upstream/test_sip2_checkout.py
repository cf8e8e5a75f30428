"""Borrowing and returning through SIP2 (issue 18): checkout (11/12) and checkin (09/10) against the SIP2 servers
nobody on this team wrote (``server``: pysip2's ACS and invenio-sip2's, each with the test library of
tests/upstream/sip2_servers.py), and answers lost on the way back (``FaultyProxy``) settled by reading the library
system back, never by sending the message again blindly.

What the library system holds is read from the test library itself (``Library.holder``), or with a fresh
connection straight to the server, never through the proxy.
"""
from decimal import Decimal

import pytest

from library_kiosk.central.store.devices import SyncConflict
from library_kiosk.central.upstream import cache
from library_kiosk.central.upstream.sip2.backend import Sip2Upstream, checkin_route, checkout_refusal
from library_kiosk.central.upstream.sip2.client import parse
from tests.helpers import TODAY
from tests.upstream.sip2_servers import item_holder, sip2_settings

BORROWER, HOLD_PATRON = "21000000004", "21000000003"  # Joyce, no loans; Austen, who has holds waiting
ON_SHELF, LIBRARY_USE_ONLY, ON_HOLD = "39000000020", "39000000021", "39000000022"
MIDDLEMARCH, ULYSSES = "39000000001", "39000000002"  # on loan to 21000000001: due 28 Nov; due 20 Nov (late)
HOLD_HERE, HOLD_ELSEWHERE, OTHER_LIBRARY = "39000000023", "39000000024", "39000000025"


def _settings(port):
    return sip2_settings(port, sip2_timeout_seconds=1)


@pytest.fixture
def sip2(server):
    upstream = Sip2Upstream(_settings(server.port))
    yield upstream
    upstream.close()


@pytest.fixture
def through(server, proxy):
    upstream = Sip2Upstream(_settings(proxy.port))
    upstream.supported()  # the status exchange done, so the next answer to go missing is the one under test
    yield upstream
    upstream.close()


def _holder(server, item):
    """Who the library system says has ``item`` on loan, read straight from the server (17, no proxy)."""
    return item_holder(server, item, TODAY, sip2_timeout_seconds=1)


# ---- checkout ---------------------------------------------------------------------------

def test_a_checkout_lends_the_item_with_the_due_date_the_library_system_sets(server, sip2):
    decision = sip2.checkout(BORROWER, ON_SHELF, TODAY, "k-1")
    assert (decision.borrowed, decision.due_date.isoformat(), decision.title) == (True, "2026-12-16", "Mrs Dalloway")
    assert decision.desensitize is True  # the server said desensitize Y: the kiosk clears the tag's security
    assert server.received.count("11") == 1
    assert _holder(server, ON_SHELF) is True


def test_the_upstream_says_it_lends_and_takes_back(sip2):
    capabilities = sip2.capabilities()
    assert (capabilities.checkout, capabilities.checkin) == (True, True)


@pytest.mark.parametrize(("item", "reason", "said"), [
    (LIBRARY_USE_ONLY, "not_circulating", "Not for loan: library use only"),
    (ON_HOLD, "on_hold_for_other", "Item is on hold for another patron"),
    (MIDDLEMARCH, "on_loan_to_other", "Item is checked out to another patron"),
])
def test_a_refused_checkout_gets_our_reason_and_keeps_the_servers_message(server, sip2, item, reason, said):
    decision = sip2.checkout(BORROWER, item, TODAY, "k-2")
    assert (decision.borrowed, decision.reason, decision.due_date) == (False, reason, None)
    assert said in decision.upstream_message  # for staff; the patron reads our sentence
    assert decision.message and said not in decision.message
    assert decision.desensitize is False


def test_a_checkout_refused_for_a_reason_we_do_not_recognise_is_upstream_refused():
    reply = parse("120NNN20261125    120000AOMAIN|AA1|AB2|AJ|AH|AFComputer says no|")
    assert checkout_refusal(" ".join(reply.all("AF"))) == "upstream_refused"


@pytest.mark.parametrize(("said", "reason"), [
    ("Item not found", "unknown_item"),
    ("Item already checked out to you", "already_yours"),
    ("Item is on hold for another patron", "on_hold_for_other"),
    ("This item is reserved", "on_hold_for_other"),
    ("Item is checked out to another patron", "on_loan_to_other"),
    ("Not for loan: library use only", "not_circulating"),
    ("Reference only", "not_circulating"),
    ("Please take this item to the desk only", "not_at_kiosk"),
    ("Patron card expired", "expired"),
    ("Patron has reached the checkout limit", "loan_limit"),
    ("Too many items checked out", "loan_limit"),
    ("Patron is blocked from borrowing", "blocked"),
    ("Borrowing privileges suspended", "blocked"),
])
def test_a_refusals_screen_message_is_read_as_our_reason(said, reason):
    assert checkout_refusal(said) == reason


# ---- checkin ----------------------------------------------------------------------------

def test_a_checkin_with_nothing_waiting_goes_back_on_the_shelf(server, sip2):
    outcome = sip2.checkin(MIDDLEMARCH, TODAY, "k-3", library="KIOSK-1")
    assert (outcome.returned, outcome.route, outcome.late_fee) == (True, "shelf", None)
    assert outcome.resensitize is True
    assert server.received.count("09") == 1
    assert _holder(server, MIDDLEMARCH) is False


def test_a_late_return_reports_the_late_fee(sip2):
    outcome = sip2.checkin(ULYSSES, TODAY, "k-4")  # due 20 November, returned on the 25th: 5 days at 0.10
    assert (outcome.returned, outcome.late_fee) == (True, Decimal("0.50"))


@pytest.mark.parametrize(("item", "route"), [
    (HOLD_HERE, "hold_shelf"),        # CV 01: a hold for a patron of this library
    (HOLD_ELSEWHERE, "transit"),      # CV 02: a hold for a patron of another library
    (OTHER_LIBRARY, "transit"),       # CV 04: it belongs to another library
])
def test_a_checkin_is_routed_by_the_alert_type(sip2, item, route):
    outcome = sip2.checkin(item, TODAY, "k-5")
    assert (outcome.returned, outcome.route) == (True, route)


@pytest.mark.parametrize(("fields", "route"), [
    ("CV99|AFSee staff|", "desk"),                 # an alert type we do not route
    ("AFSee staff|", "desk"),                      # an alert without a type
    ("CTBRANCH|", "transit"),                      # no type, but another library is its destination
    ("CTMAIN|CY21000000003|", "hold_shelf"),       # no type, a hold patron of this library
])
def test_an_alert_without_a_type_we_route_is_routed_by_what_else_it_says(fields, route):
    reply = parse("101YNY20261125    120000AOMAIN|AB1|AQMain|" + fields)
    assert checkin_route(reply, "MAIN") == route


def test_a_checkin_of_an_item_not_on_loan_is_refused_with_the_servers_message(sip2):
    outcome = sip2.checkin(ON_SHELF, TODAY, "k-6")
    assert (outcome.returned, outcome.reason) == (False, "upstream_refused")
    assert "not checked out" in outcome.upstream_message


def test_the_checkin_says_where_the_item_was_returned(proxy, through):
    through.checkin(MIDDLEMARCH, TODAY, "k-7", library="KIOSK-1")
    assert b"APKIOSK-1|" in proxy.requests.split(b"09N", 1)[1]  # the current location (AP) of the checkin


# ---- lost answers -------------------------------------------------------------------------

def test_a_checkout_whose_answer_is_lost_is_read_back_and_not_sent_twice(server, proxy, through):
    proxy.drop_next_answer = True
    decision = cache.checkout_through(through, BORROWER, ON_SHELF, TODAY, "k-8")
    assert not proxy.drop_next_answer  # the checkout's answer was the one lost
    assert (decision.borrowed, decision.due_date.isoformat()) == (True, "2026-12-16")  # as the library holds it
    assert server.received.count("11") == 1


def test_a_checkout_lost_on_its_way_is_read_back_and_sent_once_more(server, proxy, through):
    proxy.drop_next_request = True
    decision = cache.checkout_through(through, BORROWER, ON_SHELF, TODAY, "k-9")
    assert not proxy.drop_next_request
    assert decision.borrowed  # read back: not lent, so sent again
    assert server.received.count("11") == 1  # the server saw one checkout: the second


def test_a_refused_checkout_whose_answer_is_lost_gets_its_real_reason(server, proxy, through):
    proxy.drop_next_answer = True
    decision = cache.checkout_through(through, BORROWER, LIBRARY_USE_ONLY, TODAY, "k-10")
    assert (decision.borrowed, decision.reason) == (False, "not_circulating")  # known not lent: asked again
    assert server.received.count("11") == 2


def test_a_checkout_that_cannot_be_read_back_is_unconfirmed_and_shown_to_staff(central_db, server, proxy,
                                                                                 through):
    proxy.cut_every_answer = True
    decision = cache.checkout_through(through, BORROWER, ON_SHELF, TODAY, "k-11")
    assert (decision.borrowed, decision.reason) == (False, "unconfirmed")
    conflict = SyncConflict.get(SyncConflict.reason == "checkout_to_be_checked")
    assert (conflict.op_key, conflict.primary_id) == ("k-11", BORROWER) and ON_SHELF in conflict.detail
    assert server.received.count("11") == 1  # never sent twice blindly


def test_a_checkin_whose_answer_is_lost_is_read_back_and_not_sent_twice(server, proxy, through):
    proxy.drop_next_answer = True
    outcome = cache.checkin_through(through, MIDDLEMARCH, TODAY, "k-12")
    assert not proxy.drop_next_answer
    assert (outcome.returned, outcome.route) == (True, "desk")  # its route was in the lost answer: the desk sorts it
    assert server.received.count("09") == 1
    assert _holder(server, MIDDLEMARCH) is False


def test_a_checkin_lost_on_its_way_is_read_back_and_sent_once_more(server, proxy, through):
    proxy.drop_next_request = True
    outcome = cache.checkin_through(through, HOLD_HERE, TODAY, "k-13")
    assert not proxy.drop_next_request
    assert (outcome.returned, outcome.route) == (True, "hold_shelf")  # still on loan when read back: sent again
    assert server.received.count("09") == 1


def test_a_checkin_that_cannot_be_read_back_goes_to_the_desk_and_is_shown_to_staff(central_db, server, proxy,
                                                                                      through):
    proxy.cut_every_answer = True
    outcome = cache.checkin_through(through, MIDDLEMARCH, TODAY, "k-14")
    assert (outcome.returned, outcome.route) == (True, "desk")
    conflict = SyncConflict.get(SyncConflict.reason == "checkin_to_be_checked")
    assert conflict.op_key == "k-14" and MIDDLEMARCH in conflict.detail
    assert server.received.count("09") == 1
