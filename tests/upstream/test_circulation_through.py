"""The central store lending and taking back through a SIP2 library system (store/circulation.py with a forward,
store/lending.py ``checkout_through`` / ``checkin_through``): the library system decides, the store keeps a copy
of the loan for kiosks, and a key sent again (a kiosk's replay) gets the stored answer without a second message to
the library system. Against the SIP2 servers of tests/upstream/sip2_servers.py."""
import pytest

from library_kiosk.central.store import circulation
from library_kiosk.central.store.models import Loan
from library_kiosk.central.upstream import cache
from library_kiosk.central.upstream.sip2.backend import Sip2Upstream
from tests.helpers import TODAY
from tests.store.factories import patron
from tests.upstream.sip2_servers import sip2_settings

BORROWER, ON_SHELF, LIBRARY_USE_ONLY = "21000000004", "39000000020", "39000000021"


@pytest.fixture
def sip2(server):
    upstream = Sip2Upstream(sip2_settings(server.port, sip2_timeout_seconds=1))
    yield upstream
    upstream.close()


def _forwards(upstream):
    return (lambda pid, barcode, today, key: cache.checkout_through(upstream, pid, barcode, today, key),
            lambda barcode, today, key, library: cache.checkin_through(upstream, barcode, today, key, library))


def test_a_loan_made_by_the_library_system_is_copied_once_and_its_key_replayed_without_a_second_message(
        central_db, server, sip2):
    user = patron(BORROWER, barcode="B-SIP2", card="C-SIP2")
    out, back = _forwards(sip2)
    first = circulation.checkout(user, ON_SHELF, TODAY, "kiosk-1:k1", out)
    again = circulation.checkout(user, ON_SHELF, TODAY, "kiosk-1:k1", out)
    assert first.borrowed and again == first
    assert server.received.count("11") == 1
    [copy] = list(Loan.select().where(Loan.item_barcode == ON_SHELF))
    assert (copy.user_id, copy.due_date, copy.status) == (user.id, first.due_date, "ON_LOAN")
    returned = circulation.checkin(ON_SHELF, TODAY, "kiosk-1:r1", "", back)
    assert circulation.checkin(ON_SHELF, TODAY, "kiosk-1:r1", "", back) == returned and returned.returned
    assert server.received.count("09") == 1
    assert Loan.get_by_id(copy.id).status == "RETURNED"


def test_a_refusal_by_the_library_system_writes_no_copy(central_db, server, sip2):
    user = patron(BORROWER, barcode="B-SIP2", card="C-SIP2")
    out, _back = _forwards(sip2)
    decision = circulation.checkout(user, LIBRARY_USE_ONLY, TODAY, "kiosk-1:k2", out)
    assert not decision.borrowed
    assert Loan.select().where(Loan.item_barcode == LIBRARY_USE_ONLY).count() == 0
