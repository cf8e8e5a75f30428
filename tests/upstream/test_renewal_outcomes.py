"""Renewal outcomes are never left unknown (issue 14): a renewal whose answer is lost or garbled on the way back
from the library system is read back, kept as the library system has it, and never sent twice; when it cannot be
read back it is marked to be checked, shown to staff, and settled by the background step.

A SIP2 server nobody on this team wrote sits behind ``FaultyProxy``, which drops or corrupts its answers. What the
library system holds is read with a fresh connection straight to the server, never through our store.
"""
import datetime as dt

import pytest

from library_kiosk.central.store import circulation
from library_kiosk.central.store.accounts import get_user
from library_kiosk.central.store.devices import SyncConflict, SyncConflictDealt
from library_kiosk.central.store.models import Loan
from library_kiosk.central.upstream import cache
from library_kiosk.central.upstream.models import PendingRenewal, create_tables
from library_kiosk.central.upstream.sip2.backend import Sip2Upstream
from tests.helpers import TODAY
from tests.upstream.sip2_servers import central_behind_proxy, sip2_settings

PATRON, MIDDLEMARCH, ULYSSES = "21000000001", "39000000001", "39000000002"  # Ulysses has a hold: not renewable


def _settings(port):
    return sip2_settings(port, sip2_timeout_seconds=1, sip2_renew_all="no", fresh_seconds=0)


@pytest.fixture
def upstream(central_db, proxy):
    create_tables(central_db)
    through = Sip2Upstream(_settings(proxy.port))
    cache.refresh(through, PATRON, TODAY)  # the patron and their loans, read into the store
    yield through
    through.close()


def _renew(upstream, item):
    loan = Loan.get(Loan.item_barcode == item)
    [decision] = circulation.renew(get_user(PATRON), [loan.id], TODAY,
                                   lambda user, ids, today: cache.forward(upstream, user, ids, today))
    return decision


def _library_due(server, item) -> dt.date:
    """The due date the library system holds, read straight from the server (not through the proxy)."""
    direct = Sip2Upstream(_settings(server.port))
    try:
        return next(loan.due_date for loan in direct.fetch(PATRON, TODAY).account.loans if loan.item_barcode == item)
    finally:
        direct.close()


def test_a_renewal_whose_answer_is_lost_is_read_back_and_not_sent_twice(server, proxy, upstream):
    before = Loan.get(Loan.item_barcode == MIDDLEMARCH).due_date
    upstream.supported()  # (the status exchange done, so the next answer to go missing is the renewal's)
    proxy.drop_next_answer = True
    decision = _renew(upstream, MIDDLEMARCH)
    assert not proxy.drop_next_answer  # the renewal's answer was the one lost
    assert decision.renewed and decision.new_due_date > before
    assert server.received.count("29") == 1  # renewed once at the library system
    assert Loan.get(Loan.item_barcode == MIDDLEMARCH).due_date == _library_due(server, MIDDLEMARCH) \
        == decision.new_due_date


def test_a_renewal_lost_on_its_way_to_the_library_system_is_read_back_and_sent_once_more(server, proxy, upstream):
    before = Loan.get(Loan.item_barcode == MIDDLEMARCH).due_date
    upstream.supported()
    proxy.drop_next_request = True
    decision = _renew(upstream, MIDDLEMARCH)
    assert not proxy.drop_next_request  # the renewal was the message lost
    assert decision.renewed and decision.new_due_date > before  # read back: not done, so sent again
    assert server.received.count("29") == 1  # the server saw one renewal: the second
    assert Loan.get(Loan.item_barcode == MIDDLEMARCH).due_date == _library_due(server, MIDDLEMARCH)


def test_a_refused_renewal_whose_answer_is_lost_gets_its_real_reason(server, proxy, upstream):
    before = Loan.get(Loan.item_barcode == ULYSSES).due_date
    upstream.supported()
    proxy.drop_next_answer = True
    decision = _renew(upstream, ULYSSES)
    assert not proxy.drop_next_answer
    assert (decision.renewed, decision.reason) == (False, "requested")  # asked again: known not renewed
    assert Loan.get(Loan.item_barcode == ULYSSES).due_date == _library_due(server, ULYSSES) == before


def test_an_unreadable_outcome_is_marked_to_be_checked_shown_to_staff_and_settled_later(server, proxy, upstream):
    upstream.supported()
    proxy.corrupt_every_answer = True  # the renewal's answer and the read-back's are garbled
    decision = _renew(upstream, MIDDLEMARCH)
    assert (decision.renewed, decision.reason) == (False, "unconfirmed")
    assert [row.status for row in PendingRenewal.select()] == ["to_check"]
    conflict = SyncConflict.get(SyncConflict.reason == "renewal_to_be_checked")
    assert conflict.primary_id == PATRON and SyncConflictDealt.select().count() == 0  # on the staff's list
    proxy.corrupt_every_answer = False
    counts = cache.replay(upstream, TODAY)  # the background step
    assert counts["checked"] == 1 and counts["sent"] == 0  # read back: it was renewed, nothing sent again
    assert server.received.count("29") == 1
    assert [row.status for row in PendingRenewal.select()] == ["done"]
    assert Loan.get(Loan.item_barcode == MIDDLEMARCH).due_date == _library_due(server, MIDDLEMARCH)
    assert SyncConflictDealt.get(SyncConflictDealt.conflict == conflict).operator == "checked: renewed"


# ---- Alma: the renewal is done, and the answer comes back as a gateway's 504 ---------------------------------

@pytest.fixture
def alma_renewing(central_db, alma, alma_upstream):
    from tests.upstream.alma_fake import example_user

    fake, _url = alma
    create_tables(central_db)
    fake.add_user(example_user())
    fake.add_loan("AL1", "39000000001", "Middlemarch")
    fake.add_loan("AL1", "39000000002", "Ulysses", renewable=False)
    cache.refresh(alma_upstream, "AL1", TODAY)
    return fake, alma_upstream


def _renew_alma(upstream, item):
    loan = Loan.get(Loan.item_barcode == item)
    [decision] = circulation.renew(get_user("AL1"), [loan.id], TODAY,
                                   lambda user, ids, today: cache.forward(upstream, user, ids, today))
    return decision


def _alma_due(fake, item) -> dt.date:
    loan = next(loan for loan in fake.loans["AL1"] if loan["item_barcode"] == item)
    return dt.date.fromisoformat(loan["due_date"][:10])


def test_an_alma_renewal_whose_answer_is_lost_is_read_back_and_not_sent_twice(alma_renewing):
    fake, upstream = alma_renewing
    fake.lose_next_write_answer = True
    decision = _renew_alma(upstream, "39000000001")
    assert decision.renewed and decision.new_due_date == _alma_due(fake, "39000000001")
    assert len([e for e in fake.log if e["args"].get("op") == "renew"]) == 1  # renewed once in Alma
    assert Loan.get(Loan.item_barcode == "39000000001").due_date == _alma_due(fake, "39000000001")
    assert not [e for e in fake.log if e["violations"]]  # every call, the read-back too, valid for Alma's API


def test_an_alma_refusal_whose_answer_is_lost_gets_its_real_reason(alma_renewing):
    fake, upstream = alma_renewing
    middlemarch = next(loan for loan in fake.loans["AL1"] if loan["item_barcode"] == "39000000001")
    fake.not_renewable.add(middlemarch["loan_id"])  # Alma now refuses it; our copy still says renewable
    fake.lose_next_write_answer = True
    before = Loan.get(Loan.item_barcode == "39000000001").due_date
    decision = _renew_alma(upstream, "39000000001")
    assert not fake.lose_next_write_answer  # the refusal was sent, and its answer lost
    assert (decision.renewed, decision.reason) == (False, "not_renewable")  # asked again: known not renewed
    assert Loan.get(Loan.item_barcode == "39000000001").due_date == _alma_due(fake, "39000000001") == before


def test_the_background_step_runs_after_a_kiosk_heartbeat(central_db, config, device_token):
    """Renewals to be checked are settled without anyone asking: after a heartbeat's answer has gone, at most
    once a minute per process (here: right after the test closes the answer, as a server does once it is sent)."""
    from tests.helpers import device_client

    with central_behind_proxy(config, TODAY, sip2_timeout_seconds=1, sip2_renew_all="no", fresh_seconds=0) as (
            app, upstream, server, proxy):
        cache.refresh(upstream, PATRON, TODAY)
        proxy.corrupt_every_answer = True
        assert _renew(upstream, MIDDLEMARCH).reason == "unconfirmed"
        proxy.corrupt_every_answer = False
        answer = device_client(app, device_token).post("/api/v1/sync/heartbeat", json={})
        assert answer.status_code == 200
        assert [row.status for row in PendingRenewal.select()] == ["to_check"]  # not while the kiosk waits
        answer.close()  # sent: the step runs
        assert [row.status for row in PendingRenewal.select()] == ["done"]
        assert server.received.count("29") == 1


def test_staff_see_a_renewal_to_be_checked_with_its_title_and_what_the_patron_was_told(server, proxy, upstream):
    from provisioning.conflicts import REASONS, describe

    upstream.supported()
    proxy.corrupt_every_answer = True
    _renew(upstream, MIDDLEMARCH)
    conflict = SyncConflict.get(SyncConflict.reason == "renewal_to_be_checked")
    loans = {row.id: row for row in Loan.select()}
    shown = describe(conflict, loans, {})
    assert shown["item"] == f"Middlemarch ({MIDDLEMARCH})" and shown["promised"] == "sent, to be confirmed"
    assert REASONS[conflict.reason].startswith("Renewal sent to the library system")
