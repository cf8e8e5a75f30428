"""The station in real Chromium: log in, register a member with a card tapped on the
simulated desk reader (real reader service), the duplicate-card refusal, waive a fee,
mark a loan lost and found, and send a requests report. Screenshots go to
test-artifacts/provisioning/."""
import os

import pytest
from playwright.sync_api import expect

from hardware.client import simulate
from library_kiosk.central.store.models import Fee, User
from tests.helpers import LiveServer
from tests.provisioning.helpers import ARTIFACTS, log_in
from tests.store import factories

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser, station, reader_service):
    """A logged-in station tab in the session's shared Chromium (see tests/conftest.py)."""
    station.config["KIOSK"]["readers"]["service_url"] = reader_service
    server = LiveServer(station)
    os.makedirs(ARTIFACTS, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(10000)
    tab.base = server.url
    log_in(tab, server.url, "manager")
    expect(tab.locator("h1")).to_have_text("Scan patron ID or search for patron")
    yield tab
    context.close()
    server.stop()


def shot(page, name):
    page.screenshot(path=os.path.join(ARTIFACTS, f"{name}.png"), full_page=True)


def test_register_with_a_tapped_card_and_refuse_a_duplicate(page, reader_service):
    factories.patron("P9", barcode="20000000000099", card="04CAFE00000099", first_name="Bo", last_name="Held")
    shot(page, "01-find")
    page.fill("#q", "Held B")
    page.click("text=Go")
    expect(page.get_by_test_id("results")).to_contain_text("P9")
    page.get_by_test_id("menu-patrons").get_by_role("button").click()  # the menu group (page.html)
    page.click("text=Register new user")
    page.get_by_role("button", name="Save", exact=True).click()  # everything empty: every message beside its field
    for field in ("first_name", "last_name", "user_group", "card_expiry", "password", "email", "line1", "city",
                  "postal_code", "barcode", "card_serial"):
        expect(page.get_by_test_id(f"error-{field}")).to_be_visible()
    shot(page, "02-register-errors")
    page.fill("#first_name", "Ada")
    page.fill("#last_name", "Quillfeather")
    page.select_option("#user_group", "25")
    page.fill("#card_expiry", "2027-06-30")
    page.dispatch_event("#card_expiry", "change")
    expect(page.get_by_test_id("record-expiry")).to_have_text("1 July 2027")
    page.fill("#pin", "1111")
    page.fill("#password", "quillfeather1")
    page.fill("#password_confirm", "different-one")
    page.fill("#email", "ada.q@example.org")
    page.fill("#line1", "1 Gower Street")
    page.fill("#city", "London")
    page.fill("#postal_code", "WC1E 6BT")
    page.fill("#barcode", "20000000000011")
    expect(page.locator("#reader-status")).to_contain_text("online")
    simulate(reader_service, "card", "04CAFE00000099")  # Bo Held's card
    expect(page.locator("#card_serial")).to_have_value("04CAFE00000099")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("error-pin")).to_contain_text("repeated digit")
    expect(page.get_by_test_id("error-password")).to_contain_text("user name")
    expect(page.get_by_test_id("error-card_serial")).to_contain_text("Bo Held (P9)")
    assert User.select().count() == 1
    page.fill("#pin", "4826")
    for name in ("#password", "#password_confirm"):
        page.fill(name, "Orchid-lantern-73")
    simulate(reader_service, "card", "04CAFE00000011")
    expect(page.locator("#card_serial")).to_have_value("04CAFE00000011")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("notice")).to_contain_text("is registered as")
    shot(page, "03-registered")
    user = User.get(User.last_name == "Quillfeather")
    assert (user.account_type, user.record_type, str(user.expiry_date)) == ("INTERNAL", "STAFF", "2027-07-01")
    page.click("nav.tabs >> text=Identifiers")
    expect(page.get_by_test_id("identifier-04CAFE00000011")).to_be_visible()
    page.fill("#barcode", "20000000000012")
    simulate(reader_service, "card", "04CAFE00000012")
    expect(page.locator("[data-testid=replace-card] #card_serial")).to_have_value("04CAFE00000012")
    page.get_by_role("button", name="Replace card").click()
    expect(page.get_by_test_id("status-04CAFE00000011")).to_have_text("Inactive")
    shot(page, "04-card-replaced")
    page.get_by_test_id("menu-cards").get_by_role("button").click()  # the menu group (page.html)
    page.click("a:text('Whose card?')")
    expect(page.locator("#reader-status")).to_contain_text("online")
    simulate(reader_service, "card", "04CAFE00000012")
    expect(page.get_by_test_id("owner")).to_contain_text(user.primary_id)


def test_fee_waive_loan_lost_found_and_requests_report(page, smtp_server):
    user = factories.patron("P1")
    user.emails.model.create(user=user, email_address="zoe@example.org", preferred=True)
    fee = factories.fine(user, "3.00")
    loan = factories.loan(user, title="Middlemarch")
    factories.hold(user, title="Beloved", status="ON_HOLD_SHELF", place=None)
    page.goto(page.base + "/patrons/P1?tab=fees")
    page.fill(f"[data-testid=waive-reason-{fee.id}]", "First offence")
    page.click(f"[data-testid=waive-{fee.id}]")
    expect(page.get_by_test_id(f"fee-status-{fee.id}")).to_have_text("Closed")
    shot(page, "05-fees")
    page.click("nav.tabs >> text=Loans")
    page.click(f"[data-testid=loan-{loan.id}-lost]")
    expect(page.get_by_test_id(f"loan-status-{loan.id}")).to_have_text("Lost")
    assert Fee.get(Fee.loan == loan.id).balance == 45
    page.click(f"[data-testid=loan-{loan.id}-found]")
    expect(page.get_by_test_id(f"loan-status-{loan.id}")).to_have_text("On loan")
    assert Fee.get(Fee.loan == loan.id).status == "CLOSED"
    shot(page, "06-loans")
    page.click("nav.tabs >> text=Requests")
    page.click("[data-testid=send-requests-report]")
    expect(page.get_by_test_id("notice")).to_contain_text("zoe@example.org")
    page.click("nav.tabs >> text=Letters")
    expect(page.get_by_test_id("letters")).to_contain_text("your requests")
    shot(page, "07-letters")


def test_a_lost_request_shows_still_working_then_try_again_which_works(page, station):
    station.config["KIOSK"]["provisioning"]["request_timeout_seconds"] = 3
    user = factories.patron("P1")
    loan = factories.loan(user, title="Middlemarch")
    page.goto(page.base + "/patrons/P1")
    held = []
    page.route("**/patrons/P1?tab=loans", lambda route: held.append(route))  # the network loses the request
    page.reload()  # the page reads its request timeout when it loads
    page.click("nav.tabs >> text=Loans")
    progress = page.locator("#request-progress")
    expect(progress).to_contain_text("Still working…", timeout=5000)
    expect(progress).to_contain_text("No answer from the station yet.", timeout=8000)
    assert len(held) == 1
    page.unroute("**/patrons/P1?tab=loans")  # the network is back
    progress.get_by_role("button", name="Try again").click()
    expect(page.get_by_test_id(f"loan-status-{loan.id}")).to_be_visible()
    expect(progress).to_be_hidden()
