"""The station's *Sync conflicts* page for a checkout or return sent to the library system whose answer was lost and
could not be read back (upstream/cache.py; settled later by upstream/settle_circulation.py): the reason in plain
words, what the patron was told, and the item by barcode with its title when the store knows it.

The conflicts are made as the product makes them: a SIP2 server nobody on this team wrote behind ``FaultyProxy``,
which cuts every answer (the operation's and the read-back's)."""
import pytest

from library_kiosk.central.store import items
from library_kiosk.central.upstream import cache
from library_kiosk.central.upstream.sip2.backend import Sip2Upstream
from tests.helpers import TODAY
from tests.upstream.sip2_servers import FaultyProxy, sip2_settings, start_server

BORROWER, ON_SHELF, MIDDLEMARCH = "21000000004", "39000000020", "39000000001"


@pytest.fixture
def lost_answers(central_db):
    """A checkout (of an item the store has a record of) and a return, each answered ``unconfirmed``."""
    server = start_server("pysip2")
    proxy = FaultyProxy(server.port)
    upstream = Sip2Upstream(sip2_settings(proxy.port, sip2_timeout_seconds=1))
    try:
        items.Item.create(barcode=ON_SHELF, title="Mrs Dalloway", library="MAIN")
        upstream.supported()
        proxy.cut_every_answer = True
        assert cache.checkout_through(upstream, BORROWER, ON_SHELF, TODAY, "k-out").reason == "unconfirmed"
        proxy.cut_every_answer = False
        assert upstream.item_on_loan(MIDDLEMARCH, TODAY)  # a connection logged in again, to send the return on
        proxy.cut_every_answer = True
        assert cache.checkin_through(upstream, MIDDLEMARCH, TODAY, "k-in").route == "desk"
        yield
    finally:
        upstream.close()
        proxy.stop()
        server.stop()


def _row(page: str, operation: str) -> str:
    rows = [row for row in page.split("<tr ")[1:] if f"<td>{operation}: " in row]
    assert len(rows) == 1, page
    return rows[0]


def test_staff_see_a_checkout_to_be_checked_in_plain_words_with_the_item(lost_answers, desk):
    row = _row(desk.get("/conflicts").get_data(as_text=True), "checkout")
    assert "<td>Mrs Dalloway (39000000020)</td>" in row and "<td>checkout: lent, to be confirmed</td>" in row
    assert "<strong>Checkout sent to the library system, its answer lost: being checked</strong>: the checkout" in row


def test_staff_see_a_return_to_be_checked_in_plain_words_with_the_item(lost_answers, desk):
    row = _row(desk.get("/conflicts").get_data(as_text=True), "return")
    assert "<td>39000000001</td>" in row and "<td>return: returned, to be confirmed</td>" in row
    assert "<strong>Return sent to the library system, its answer lost: being checked</strong>: the return" in row
