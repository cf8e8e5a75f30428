"""Checkouts and returns whose outcome stayed unknown (issue 18): the answer lost and the read-back failed too, the
patron told ``unconfirmed`` (a return sent to the desk), staff shown a conflict; settled later in the background
(upstream/settle_circulation.py) by reading the library system back, never by lending again.

A SIP2 server nobody on this team wrote sits behind ``FaultyProxy``: ``cut_every_answer`` loses the operation's
answer and the read-back's; ``drop_next_request`` loses the operation on its way, so the server never sees it.
What the library system holds is read straight from the server (``_holder``), never through the proxy.
"""
import pytest

from library_kiosk.central.store import lending
from library_kiosk.central.store.db import database
from library_kiosk.central.store.devices import SyncConflict, SyncConflictDealt, mark_conflict_dealt
from library_kiosk.central.store.models import Loan, User
from library_kiosk.central.upstream import cache, settle_circulation
from library_kiosk.central.upstream.models import PendingCirculation, create_tables
from library_kiosk.central.upstream.sip2.backend import Sip2Upstream
from tests.helpers import TODAY
from tests.upstream.sip2_servers import central_behind_proxy, item_holder, sip2_settings

BORROWER, ON_SHELF, MIDDLEMARCH = "21000000004", "39000000020", "39000000001"  # Joyce; Mrs Dalloway; on loan


def _settings(port):
    return sip2_settings(port, sip2_timeout_seconds=1, fresh_seconds=0)


@pytest.fixture
def through(central_db, server, proxy):
    upstream = Sip2Upstream(_settings(proxy.port))
    upstream.supported()  # the status exchange done, so the next answer to go missing is the one under test
    yield upstream
    upstream.close()


def _holder(server, item):
    return item_holder(server, item, TODAY, sip2_timeout_seconds=1, fresh_seconds=0)


def _unconfirmed_checkout(proxy, through, *, reaches_the_server: bool):
    proxy.drop_next_request = not reaches_the_server
    proxy.cut_every_answer = True  # the answer (if any) and the read-back's are lost
    decision = cache.checkout_through(through, BORROWER, ON_SHELF, TODAY, "k-out")
    assert decision.reason == "unconfirmed"
    proxy.cut_every_answer = False
    return SyncConflict.get(SyncConflict.reason == "checkout_to_be_checked")


def _unconfirmed_checkin(proxy, through, *, reaches_the_server: bool):
    proxy.drop_next_request = not reaches_the_server
    proxy.cut_every_answer = True
    outcome = cache.checkin_through(through, MIDDLEMARCH, TODAY, "k-in", "KIOSK-1")
    assert (outcome.returned, outcome.route) == (True, "desk")
    proxy.cut_every_answer = False
    return SyncConflict.get(SyncConflict.reason == "checkin_to_be_checked")


def _dealt(conflict):
    found = SyncConflictDealt.get_or_none(SyncConflictDealt.conflict == conflict)
    return found.operator if found else None


# ---- checkout -----------------------------------------------------------------------------------------------

def test_a_checkout_the_library_system_made_is_settled_as_lent_and_the_loan_kept_here(server, proxy, through):
    conflict = _unconfirmed_checkout(proxy, through, reaches_the_server=True)
    counts = settle_circulation.settle(through, TODAY)
    assert counts["lent"] == 1 and _dealt(conflict) == "checked: lent"
    loan = Loan.select().join(User).where((User.primary_id == BORROWER) & (Loan.item_barcode == ON_SHELF)).get()
    assert (loan.status, loan.due_date.isoformat()) == ("ON_LOAN", "2026-12-16")  # as the library system holds it
    assert server.received.count("11") == 1  # never lent again


def test_the_same_key_sent_again_after_settling_is_told_the_item_was_lent(server, proxy, through):
    """The central store keeps each checkout's answer under its key (store/lending.py): ``unconfirmed`` at first,
    the loan once settled; a kiosk whose answer was lost sends the key again and nothing is sent upstream."""
    create_tables(database)  # the read-through's tables, as the central app creates them at start
    cache.store_account(through.fetch(BORROWER, TODAY), TODAY)  # the patron, read through as at a tap
    user = User.get(User.primary_id == BORROWER)
    proxy.cut_every_answer = True

    def send():
        return cache.checkout_through(through, BORROWER, ON_SHELF, TODAY, "kiosk-1:k-out")

    first = lending.checkout_through(user, ON_SHELF, TODAY, "kiosk-1:k-out", send)
    proxy.cut_every_answer = False
    settle_circulation.settle(through, TODAY)
    again = lending.checkout_through(user, ON_SHELF, TODAY, "kiosk-1:k-out", send)
    assert [(d.borrowed, d.reason) for d in (first, again)] + [again.due_date.isoformat()] == [
        (False, "unconfirmed"), (True, ""), "2026-12-16"]
    assert server.received.count("11") == 1


def test_a_checkout_that_never_reached_the_library_system_is_settled_as_not_lent_and_not_sent(server, proxy,
                                                                                                through):
    conflict = _unconfirmed_checkout(proxy, through, reaches_the_server=False)
    counts = settle_circulation.settle(through, TODAY)
    assert counts["not_lent"] == 1 and _dealt(conflict) == "checked: not lent"
    assert server.received.count("11") == 0  # the patron has left: nothing is lent from the background
    assert Loan.select().where(Loan.item_barcode == ON_SHELF).count() == 0
    assert _holder(server, ON_SHELF) is False


# ---- return -------------------------------------------------------------------------------------------------

def test_a_return_the_library_system_took_is_settled_as_returned(server, proxy, through):
    conflict = _unconfirmed_checkin(proxy, through, reaches_the_server=True)
    counts = settle_circulation.settle(through, TODAY)
    assert counts["returned"] == 1 and _dealt(conflict) == "checked: returned"
    assert server.received.count("09") == 1  # not sent again


def test_a_return_that_never_reached_the_library_system_is_sent_again_with_its_key(server, proxy, through):
    conflict = _unconfirmed_checkin(proxy, through, reaches_the_server=False)
    assert _holder(server, MIDDLEMARCH) is True
    counts = settle_circulation.settle(through, TODAY)
    assert counts["sent_again"] == 1 and _dealt(conflict) == "checked: returned, sent again"
    assert server.received.count("09") == 1  # the server saw one return: the one sent again
    assert b"APKIOSK-1|" in proxy.requests.rsplit(b"09N", 1)[1]  # from where it was made
    assert _holder(server, MIDDLEMARCH) is False


# ---- not settled yet ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("unconfirmed", [_unconfirmed_checkout, _unconfirmed_checkin])
def test_a_read_back_that_fails_again_leaves_the_conflict_open_for_the_next_round(server, proxy, through,
                                                                                    unconfirmed):
    conflict = unconfirmed(proxy, through, reaches_the_server=True)
    proxy.cut_every_answer = True
    counts = settle_circulation.settle(through, TODAY)
    assert counts["open"] == 1 and _dealt(conflict) is None
    assert [row.status for row in PendingCirculation.select()] == ["to_check"]
    proxy.cut_every_answer = False
    assert settle_circulation.settle(through, TODAY)["open"] == 0  # the next round settles it


def test_a_conflict_staff_dealt_with_first_is_not_checked(server, proxy, through):
    conflict = _unconfirmed_checkin(proxy, through, reaches_the_server=False)
    mark_conflict_dealt(conflict.id, "desk-anna")
    assert not any(settle_circulation.settle(through, TODAY).values())
    assert [row.status for row in PendingCirculation.select()] == ["staff"]
    assert server.received.count("09") == 0 and _dealt(conflict) == "desk-anna"


# ---- the background step ------------------------------------------------------------------------------------

def test_the_background_step_after_a_kiosk_heartbeat_settles_them(central_db, config, device_token):
    """Run after the heartbeat's answer has gone (here: when the test closes the answer), as renewals' are."""
    from tests.helpers import device_client

    with central_behind_proxy(config, TODAY, sip2_timeout_seconds=1, fresh_seconds=0) as (app, upstream, _s, proxy):
        conflict = _unconfirmed_checkout(proxy, upstream, reaches_the_server=True)
        answer = device_client(app, device_token).post("/api/v1/sync/heartbeat", json={})
        assert answer.status_code == 200 and _dealt(conflict) is None  # not while the kiosk waits
        answer.close()  # sent: the step runs
        assert _dealt(conflict) == "checked: lent"
