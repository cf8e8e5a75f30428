"""User groups at the station in real Chromium: an administrator creates a group, edits it from its row, and the
table shows the change. Screenshots go to test-artifacts/provisioning-groups/."""
import pytest
from playwright.sync_api import expect

from library_kiosk.central.store.models import UserGroup
from tests.helpers import screenshot
from tests.provisioning.helpers import log_in

pytestmark = pytest.mark.browser


def test_create_a_group_then_edit_it(page, station_url):
    page.set_default_timeout(15000)
    log_in(page, station_url, "admin")
    page.get_by_test_id("menu-administration").get_by_role("button").click()  # the menu group (page.html)
    page.click("a:text('Administration jobs')")
    form = page.get_by_test_id("form-group")
    form.locator("input[name=code]").fill("08")
    form.locator("input[name=description]").fill("Visiting scholar")
    form.locator("input[name=loan_limit]").fill("6")
    page.get_by_test_id("save-group").click()
    expect(page.get_by_test_id("notice")).to_have_text("User group 08 created.")
    expect(page.get_by_test_id("group-row-08")).to_contain_text("Visiting scholar")
    screenshot(page, "provisioning-groups", "01-created")
    page.get_by_test_id("edit-group-08").click()
    form = page.get_by_test_id("form-group")
    expect(form.locator("input[name=code]")).to_have_value("08")
    form.locator("input[name=loan_limit]").fill("9")
    form.locator("select[name=pin_required]").select_option("false")
    page.get_by_test_id("save-group").click()
    expect(page.get_by_test_id("notice")).to_have_text("User group 08 saved.")
    expect(page.get_by_test_id("group-row-08")).to_contain_text("no")
    screenshot(page, "provisioning-groups", "02-edited")
    group = UserGroup.get_by_id("08")
    assert (group.loan_limit, group.pin_required) == (9, False)
