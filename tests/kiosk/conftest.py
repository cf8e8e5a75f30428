"""Kiosk fixtures: the cache filled in-process from the central store, a real SMTP
server (aiosmtpd), patrons for every path of the patron screens."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.store.factories import TODAY, fine, group, hold, loan, patron


def fill_cache(kiosk_app) -> int:
    """Copy the central store's change feed into the kiosk's cache (the pull's pages, without HTTP)."""
    from kiosk.cache import cache_db
    from library_kiosk.central.store import sync

    cache = kiosk_app.extensions["patron_cache"]
    applied = 0
    with cache_db.connection_context():
        while True:
            page = sync.changes_after(cache.cursor(), 1000)
            applied += cache.apply_page(page)
            if not page["more"]:
                return applied


@pytest.fixture
def printer_file(tmp_path):
    return str(tmp_path / "printer.bin")


@pytest.fixture
def kiosk_config(config, smtp_server, printer_file):
    config["mail"].update(host="127.0.0.1", port=smtp_server.port, from_address="library@example.org")
    config["kiosk"]["printer"].update(kind="file", path=printer_file)
    config["kiosk"]["pin_lockout_minutes"] = 15
    return config


def make_patrons():
    """P1 (PIN 2468, mixed loans, requests, email), P2 expired student, P3 no PIN needed, P4 French."""
    from library_kiosk.central.store.models import Email

    user = patron("P1", barcode="20000000000011", card="04A1B2C3D4E5F6")
    Email.create(user=user, email_address="zoe@example.org", preferred=True)
    loan(user, "Middlemarch", due=TODAY - dt.timedelta(days=2))
    loan(user, "Les Misérables", due=TODAY + dt.timedelta(days=5))
    loan(user, "Ulysses", status="CLAIMED_RETURNED")
    loan(user, "The Second Sex", renewals=2)
    loan(user, "Gödel, Escher, Bach", barcode="39990000000001")
    hold(user, title="Beloved", status="ON_HOLD_SHELF", place=None, pickup="Science Library")
    hold(user, title="Dubliners", status="NOT_STARTED", place=3)
    fine(user, "2.50")
    patron("P2", barcode="20000000000022", card="04FFFFFFFFFFFF", expiry=TODAY, account_type="EXTERNAL",
           external_id="STUDENT")
    group("58", description="Library Guest", pin_required=False)
    guest = patron("P3", barcode="20000000000033", card="04AAAAAAAAAAAA", group_code="58", first_name="Guest",
                   last_name="Reader")
    hold(guest, item_barcode="39990000000001", title="Gödel, Escher, Bach", place=1)
    patron("P4", barcode="20000000000044", card="04BBBBBBBBBBBB", preferred_language="fr", first_name="Amélie",
           last_name="Dubois")


@pytest.fixture
def kiosk(kiosk_app, central_db, kiosk_config):
    """A test client of the kiosk with the patrons above in its cache."""
    make_patrons()
    fill_cache(kiosk_app)
    return kiosk_app.test_client()
