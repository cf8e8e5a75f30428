"""Checkout and check-in at the desk in real Chromium (issue 18 item 6), at 1366x768 and 1024x768: scan three
items into the patron's Loans tab (one refused with its reason), each outcome listed as it happens and the focus
back in the barcode field for the next scan; email the slip (a real SMTP server); then scan two of them back in
on the Check in page (one to the hold shelf, with the name of the patron it waits for). axe-core clean at each
step. Screenshots go to test-artifacts/station/."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from library_kiosk.central.store import items, lending
from library_kiosk.central.store.accounts import get_user
from library_kiosk.central.store.models import Email, Loan
from library_kiosk.domain.checkout import CHECKOUT_REASONS
from tests.helpers import screenshot
from tests.kiosk.browser.helpers import AXE
from tests.kiosk.helpers import mail_text
from tests.provisioning.helpers import log_in
from tests.provisioning.test_station_look_browser import AXE_RUN
from tests.store.factories import TODAY, hold, patron

pytestmark = pytest.mark.browser
SIZES = {"1366x768": (1366, 768), "1024x768": (1024, 768)}


@pytest.fixture
def shelf(station):
    user = patron("P1")
    Email.create(user=user, email_address="zoe@example.org", preferred=True)
    ada = patron("P2", barcode="20000000000022", card="04FFFFFFFFFFFF", first_name="Ada", last_name="Quillfeather")
    for barcode, title in (("39301", "Middlemarch"), ("39302", "Beloved"), ("39303", "Orlando")):
        items.Item.create(barcode=barcode, title=title, library="MAIN")
    hold(ada, item_barcode="39303", title="Orlando")  # first in Ada's queue: refused to P1
    return user


@pytest.fixture(params=list(SIZES))
def tab(browser, station_url, request):
    width, height = SIZES[request.param]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(15000)
    page.size = request.param
    yield page
    context.close()


def axe_violations(page) -> list[str]:
    page.add_script_tag(path=AXE)
    return page.evaluate(AXE_RUN)


def scan(page, testid: str, barcode: str) -> None:
    """A scanner types the barcode and Enter into the focused field."""
    expect(page.get_by_test_id(testid)).to_be_focused()
    page.keyboard.type(barcode)
    page.keyboard.press("Enter")


def test_check_out_three_items_one_refused_then_email_the_slip(tab, station_url, shelf, smtp_server):
    log_in(tab, station_url, "desk")
    tab.goto(station_url + "/patrons/P1?tab=loans")
    outcomes = tab.get_by_test_id("checkout-outcomes").locator("li")
    for shown, barcode in enumerate(("39301", "39302", "39303"), start=1):
        scan(tab, "checkout-barcode", barcode)
        expect(outcomes).to_have_count(shown)
    expect(outcomes.first).to_have_text(f"Not checked out: Orlando (39303). {CHECKOUT_REASONS['on_hold_for_other']}")
    expect(outcomes.nth(2)).to_have_text("Checked out Middlemarch (39301) until 16 December 2026.")
    expect(tab.get_by_test_id("checkout-barcode")).to_be_focused()
    screenshot(tab, "station", f"desk-checkout-{tab.size}")
    assert axe_violations(tab) == []
    tab.get_by_test_id("email-slip").click()
    expect(tab.get_by_test_id("notice")).to_contain_text("Slip sent to zoe@example.org")
    [message] = smtp_server.handler.messages  # the station answered after the mail server took it
    assert ("Checked out Beloved (39302)" in mail_text(message), Loan.select().count()) == (True, 2)


def test_check_in_two_items_one_to_the_hold_shelf(tab, station_url, shelf):
    assert lending.checkout(shelf, "39301", TODAY).borrowed
    assert lending.checkout(get_user("P2"), "39303", TODAY).borrowed  # Ada's hold fulfilled ...
    hold(shelf, item_barcode="39303", title="Orlando")  # ... and now P1 waits for it
    log_in(tab, station_url, "desk")
    tab.get_by_test_id("menu-desk").get_by_role("button", name="Desk").click()
    tab.get_by_role("link", name="Check in").click()
    expect(tab.locator("h1")).to_have_text("Check in")
    scan(tab, "checkin-barcode", "39301")
    expect(tab.get_by_test_id("checkin-outcomes").locator("tbody tr")).to_have_count(1)
    scan(tab, "checkin-barcode", "39303")
    rows = tab.get_by_test_id("checkin-outcomes").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("To the hold shelf")
    expect(rows.first).to_contain_text("Checked in Orlando (39303): to the hold shelf for Zoë Ólafsdóttir (P1).")
    expect(rows.nth(1)).to_contain_text("To the shelf")
    expect(tab.get_by_test_id("checkin-barcode")).to_be_focused()
    screenshot(tab, "station", f"desk-checkin-{tab.size}")
    assert axe_violations(tab) == []

