"""Inline editing of a segment row in real Chromium: the row becomes a form, saves, and
is a row again. Screenshots go to test-artifacts/provisioning-records/."""
import pytest
from playwright.sync_api import expect

from library_kiosk.central.store.models import Email
from tests.helpers import screenshot
from tests.provisioning.helpers import log_in
from tests.store import factories

pytestmark = pytest.mark.browser


def test_edit_an_email_row_in_place(page, station_url):
    user = factories.patron("P1")
    email = Email.create(user=user, email_address="zoe@example.org")
    page.set_default_timeout(15000)
    log_in(page, station_url, "manager")
    page.goto(station_url + "/patrons/P1?tab=contact")
    page.get_by_test_id(f"edit-email-{email.id}").click()
    field = page.locator(f"#edit-email-{email.id}-email")
    expect(field).to_have_value("zoe@example.org")
    field.fill("not an email")
    page.get_by_test_id(f"save-email-{email.id}").click()
    expect(page.get_by_test_id(f"edit-row-email-{email.id}").get_by_test_id("error-email")).to_be_visible()
    screenshot(page, "provisioning-records", "01-inline-edit-error")
    page.locator(f"#edit-email-{email.id}-email").fill("zoe.o@example.org")
    page.get_by_test_id(f"save-email-{email.id}").click()
    expect(page.locator(f"#row-email-{email.id}")).to_contain_text("zoe.o@example.org")
    expect(page.get_by_test_id(f"edit-row-email-{email.id}")).to_have_count(0)
    assert Email.get().email_address == "zoe.o@example.org"
    page.get_by_test_id(f"edit-email-{email.id}").click()
    page.get_by_test_id(f"cancel-email-{email.id}").click()
    expect(page.locator(f"#row-email-{email.id}")).to_contain_text("zoe.o@example.org")
    screenshot(page, "provisioning-records", "02-inline-edit-saved")


def test_change_the_resource_sharing_library_on_the_general_tab(page, station, station_url):
    station.config["KIOSK"]["provisioning"]["rs_libraries"] = ["UCL Main Library", "Senate House Library"]
    factories.patron("P1", rs_library="UCL Main Library")
    page.set_default_timeout(15000)
    log_in(page, station_url, "manager")
    page.goto(station_url + "/patrons/P1")
    page.locator("#rs_library").select_option("Senate House Library")
    page.get_by_test_id("save-rs-library").click()
    expect(page.get_by_test_id("notice")).to_have_text("Resource sharing library saved.")
    expect(page.get_by_test_id("rs-library")).to_have_text("Resource sharing library: Senate House Library")
    expect(page.locator("#first_name")).to_have_value("Zoë")
    screenshot(page, "provisioning-records", "03-rs-library-changed")
    from library_kiosk.central.store.models import User
    assert User.get().rs_library == "Senate House Library"
