"""The kiosk shell in real Chromium: identify by barcode, see the account, unknown barcode."""
import datetime as dt

import pytest

from tests.helpers import LiveServer, screenshot
from tests.store.factories import TODAY, fine, group, hold, loan, patron

pytestmark = pytest.mark.browser


@pytest.fixture
def kiosk_url(kiosk_app, central_db):
    group("27", description="Consortial Borrower", pin_required=False)
    user = patron("P1", barcode="20000000000011", card="04A1B2C3D4E5F6", group_code="27")
    loan(user, "Middlemarch", due=TODAY - dt.timedelta(days=2))
    loan(user, "Les Misérables")
    hold(user, title="Beloved", status="ON_HOLD_SHELF", place=None)
    fine(user, "2.50")
    from kiosk import sync
    from kiosk.cache import cache_db
    with cache_db.connection_context():
        sync.pull(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"])
    server = LiveServer(kiosk_app)
    yield server.url
    server.stop()


def test_identify_by_barcode_and_see_the_account(page, kiosk_url):
    page.goto(kiosk_url)
    assert page.get_by_role("heading", name="Tap your card or scan your barcode").is_visible()
    # a USB scanner types into the focused field and sends Enter
    page.keyboard.type("20000000000011\n")
    page.get_by_role("heading", name="Zoë Ólafsdóttir").wait_for()
    assert page.locator("tr.overdue").count() == 1
    assert "Les Misérables" in page.content()
    page.get_by_test_id("tab-requests").click()  # the account's sections are tabs (issue 15)
    page.get_by_text("Ready for pickup", exact=True).wait_for()
    screenshot(page, "kiosk-shell", "account")


def test_a_scan_reaches_the_card_field_wherever_the_focus_is(page, kiosk_url):
    page.goto(kiosk_url)
    page.get_by_test_id("lang-fr").focus()  # a patron touched a button, then scans
    page.keyboard.type("20000000000011\n")
    page.get_by_role("heading", name="Zoë Ólafsdóttir").wait_for()


def test_unknown_barcode_gets_a_clear_message(page, kiosk_url):
    page.goto(kiosk_url)
    page.keyboard.type("99999999\n")
    page.get_by_role("heading", name="This card is not registered").wait_for()
    assert page.get_by_text("Please ask at the desk").is_visible()
    screenshot(page, "kiosk-shell", "unknown-card")
    page.get_by_role("button", name="Back").click()
    page.get_by_role("heading", name="Tap your card or scan your barcode").wait_for()
