"""Checkout and check-in at the desk in front of a library system (issue 18 item 6): the station lends and takes
back through it as the central API does for kiosks (``circulation.checkout`` / ``checkin`` with the upstream's
forwards), so the library system holds the loan, the store keeps its copy, and a refusal comes back with its
reason. A SIP2 server nobody on this team wrote (pysip2's) with the test library of tests/upstream/sip2_servers.py
behind it."""
from __future__ import annotations

import re

import pytest

from library_kiosk.central.store.models import Loan
from library_kiosk.domain.checkout import CHECKOUT_REASONS
from tests.store.factories import TODAY

BORROWER, ON_SHELF, LIBRARY_USE_ONLY = "21000000004", "39000000020", "39000000021"


@pytest.fixture
def sip2_library(central_db):
    from library_kiosk.central.upstream.sip2.client import close_all
    from tests.upstream.sip2_servers import start_server

    server = start_server("pysip2")
    yield server
    close_all()
    server.stop()


@pytest.fixture
def station_config(config, smtp_server, sip2_library):
    """The station in front of the SIP2 library (the ``station`` fixture, tests/conftest.py, uses this)."""
    from tests.upstream.sip2_servers import sip2_settings

    config["mail"].update(host="127.0.0.1", port=smtp_server.port, from_address="library@example.org")
    config["provisioning"]["secret_key"] = "station-test-secret"
    config["upstream"].update(sip2_settings(sip2_library.port, fresh_seconds=0))
    return config


@pytest.fixture
def borrower(central_db, station, station_config):
    """The SIP2 library's patron, read into the store (as a kiosk's tap would)."""
    from library_kiosk.central.upstream import cache
    from library_kiosk.central.upstream.models import create_tables
    from library_kiosk.central.upstream.sip2.backend import Sip2Upstream

    create_tables(central_db)
    reader = Sip2Upstream(dict(station_config["upstream"]))
    cache.refresh(reader, BORROWER, TODAY)
    reader.close()
    return BORROWER


def _library_loans(config) -> set[str]:
    """The items the library system has on loan to the borrower, read straight from the SIP2 server."""
    from library_kiosk.central.upstream.sip2.backend import Sip2Upstream

    direct = Sip2Upstream(dict(config["upstream"]))
    try:
        return {loan.item_barcode for loan in direct.fetch(BORROWER, TODAY).account.loans}
    finally:
        direct.close()


def test_the_desk_lends_through_the_library_system_and_keeps_a_copy(borrower, desk, station_config, sip2_library):
    desk.post(f"/patrons/{borrower}/checkout", data={"item_barcode": ON_SHELF})
    assert (ON_SHELF in _library_loans(station_config), sip2_library.received.count("11"),
            Loan.get(Loan.item_barcode == ON_SHELF).user.primary_id) == (True, 1, borrower)


def test_a_refusal_by_the_library_system_is_listed_and_nothing_is_lent(borrower, desk, station_config):
    page = desk.post(f"/patrons/{borrower}/checkout", data={"item_barcode": LIBRARY_USE_ONLY}).get_data(as_text=True)
    [line] = re.findall(r'data-testid="checkout-outcome-\d+">(.*?)</li>', page)
    assert (CHECKOUT_REASONS["not_circulating"] in line, LIBRARY_USE_ONLY in _library_loans(station_config),
            Loan.select().where(Loan.item_barcode == LIBRARY_USE_ONLY).count()) == (True, False, 0)


def test_the_desk_takes_an_item_back_through_the_library_system(borrower, desk, station_config):
    desk.post(f"/patrons/{borrower}/checkout", data={"item_barcode": ON_SHELF})
    page = desk.post("/desk/checkin", data={"item_barcode": ON_SHELF}).get_data(as_text=True)
    assert (ON_SHELF in _library_loans(station_config), "Checked in" in page,
            Loan.get(Loan.item_barcode == ON_SHELF).status) == (False, True, "RETURNED")


def test_a_library_system_that_cannot_be_reached_is_a_refusal_with_its_reason(borrower, desk, sip2_library):
    from library_kiosk.central.upstream.sip2.client import close_all

    close_all()
    sip2_library.stop()
    page = desk.post(f"/patrons/{borrower}/checkout", data={"item_barcode": ON_SHELF}).get_data(as_text=True)
    [line] = re.findall(r'data-testid="checkout-outcome-\d+">(.*?)</li>', page)
    assert (CHECKOUT_REASONS["upstream_unavailable"] in line,
            Loan.select().where(Loan.item_barcode == ON_SHELF).count()) == (True, 0)
