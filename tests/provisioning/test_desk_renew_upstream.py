"""Renewing at the desk in front of a library system (issue 16, item 3): the station renews through it as the
central API does for kiosks (``circulation.renew`` with the upstream's forward), so the library system holds the
new due date. A SIP2 server nobody on this team wrote (pysip2's) with the test library behind it."""
from __future__ import annotations

import datetime as dt

import pytest

from library_kiosk.central.store.models import Loan
from tests.store.factories import TODAY

SIP2_PATRON, SIP2_MIDDLEMARCH = "21000000001", "39000000001"  # tests/upstream/sip2_servers.py's test library


@pytest.fixture
def sip2_library(central_db):
    """A SIP2 server nobody on this team wrote (pysip2's), with the test library behind it."""
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


def _library_due(config, item) -> dt.date:
    """The due date the library system holds, read straight from the SIP2 server."""
    from library_kiosk.central.upstream.sip2.backend import Sip2Upstream

    direct = Sip2Upstream(dict(config["upstream"]))
    try:
        return next(loan.due_date for loan in direct.fetch(SIP2_PATRON, TODAY).account.loans
                    if loan.item_barcode == item)
    finally:
        direct.close()


def test_in_front_of_a_library_system_the_desk_renews_there(central_db, station, station_config, desk):
    from library_kiosk.central.upstream import cache
    from library_kiosk.central.upstream.models import create_tables
    from library_kiosk.central.upstream.sip2.backend import Sip2Upstream

    create_tables(central_db)
    reader = Sip2Upstream(dict(station_config["upstream"]))
    cache.refresh(reader, SIP2_PATRON, TODAY)  # the patron and their loans, read into the store
    reader.close()
    before = _library_due(station_config, SIP2_MIDDLEMARCH)
    middlemarch = Loan.get(Loan.item_barcode == SIP2_MIDDLEMARCH)
    desk.post(f"/patrons/{SIP2_PATRON}/renew", data={"loan_id": str(middlemarch.id)})
    assert _library_due(station_config, SIP2_MIDDLEMARCH) > before
