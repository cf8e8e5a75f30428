"""In real Chromium: a name at its length limit wraps instead of widening the patron page, and a registration ends
on the patron's page address (post/redirect/get through htmx), so a reload shows the record, not an empty form."""
import os

import pytest
from playwright.sync_api import expect

from library_kiosk.central.store.models import User
from tests.helpers import LiveServer
from tests.provisioning.helpers import ARTIFACTS, REGISTRATION, log_in
from tests.store import factories

pytestmark = pytest.mark.browser


@pytest.fixture
def tab(browser, station):
    server = LiveServer(station)
    os.makedirs(ARTIFACTS, exist_ok=True)
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(10000)
    page.base = server.url
    log_in(page, server.url, "manager")
    expect(page.locator("h1")).to_have_text("Scan patron ID or search for patron")
    yield page
    context.close()
    server.stop()


def test_a_name_at_its_limit_wraps_within_the_window(tab):
    factories.patron("P1", first_name="W" * 100, last_name="Fernández-de-Córdoba-Ólafsdóttir-Wójcik-Đorđević-" * 2)
    tab.goto(tab.base + "/patrons/P1")
    expect(tab.get_by_test_id("patron")).to_be_visible()
    tab.screenshot(path=os.path.join(ARTIFACTS, "limits-long-name.png"), full_page=True)
    assert tab.evaluate("document.documentElement.scrollWidth") <= 1366


def test_a_registration_ends_on_the_patron_page_address(tab):
    tab.goto(tab.base + "/register")
    for name in ("first_name", "last_name", "card_expiry", "pin", "password", "password_confirm", "email", "line1",
                 "city", "postal_code", "barcode", "card_serial"):
        tab.fill(f"#{name}", REGISTRATION[name])
    tab.select_option("#user_group", "25")
    tab.get_by_role("button", name="Save", exact=True).click()
    expect(tab.get_by_test_id("notice")).to_contain_text("is registered as L0000001")
    expect(tab).to_have_url(tab.base + "/patrons/L0000001")
    tab.reload()
    expect(tab.get_by_test_id("patron")).to_contain_text("Quillfeather")
    assert User.select().count() == 1


def test_saving_the_general_tab_ends_on_the_record_address_and_says_so(tab):
    factories.patron("P1", first_name="Ada", last_name="Short")
    tab.goto(tab.base + "/patrons/P1")
    tab.fill("#last_name", "Quillfeather")
    tab.get_by_role("button", name="Save general information").click()
    expect(tab.get_by_test_id("notice")).to_have_text("General information saved.")
    expect(tab).to_have_url(tab.base + "/patrons/P1?tab=general")
    assert User.get(User.primary_id == "P1").last_name == "Quillfeather"


def test_a_failed_save_says_the_new_pin_was_cleared(tab):
    factories.patron("P1", first_name="Ada", last_name="Short")
    tab.goto(tab.base + "/patrons/P1")
    tab.fill("#first_name", "")
    tab.fill("#pin", "4826")
    tab.get_by_role("button", name="Save general information").click()
    expect(tab.get_by_test_id("error")).to_contain_text("For your security the PIN was cleared; enter it again.")
    expect(tab.locator("#pin")).to_have_value("")
