"""The administrator's page in real Chromium: upload a small CSV feed, read the dry-run
report, confirm, and see the counts of the real run. Screenshots go to
test-artifacts/provisioning-admin/."""
import pytest
from playwright.sync_api import expect

from library_kiosk.central.store.models import User
from tests.helpers import screenshot
from tests.provisioning.helpers import log_in

pytestmark = pytest.mark.browser
FEED = ("primary_id,last_name,first_name,user_group,expiry_date,barcode\n"
        "S1,Ólafsdóttir,Zoë,25,2027-09-30,21000000000001\n"
        "S2,Ng,Mei,25,2027-09-30,21000000000002\n"
        "S3,Bad,Row,99,2027-09-30,\n")


def test_upload_a_feed_see_the_dry_run_confirm_and_see_the_counts(page, station_url, tmp_path):
    feed = tmp_path / "students.csv"
    feed.write_text(FEED, encoding="utf-8")
    page.set_default_timeout(15000)
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, station_url, "admin")
    page.get_by_test_id("menu-administration").get_by_role("button").click()  # the menu group (page.html)
    page.click("a:text('Administration jobs')")
    expect(page.locator("h1")).to_have_text("Administration jobs")
    page.set_input_files("#feed-file", str(feed))
    page.select_option("#feed-source", "STUDENT")
    page.click("[data-testid=dry-run-feed]")
    result = page.locator("#result-feed")
    expect(result.get_by_test_id("job-status")).to_contain_text("Load a patron feed (dry run): Done")
    expect(result.get_by_test_id("count-created")).to_have_text("2")
    expect(result.get_by_test_id("count-rejected")).to_have_text("1")
    expect(result).to_contain_text("unknown user group")
    assert User.select().count() == 0
    screenshot(page, "provisioning-admin", "01-feed-dry-run")
    result.get_by_test_id("confirm").click()
    expect(result.get_by_test_id("job-done")).to_be_visible()
    expect(result.get_by_test_id("job-status")).to_contain_text("feed: Done")
    expect(result.get_by_test_id("count-created")).to_have_text("2")
    assert sorted(u.primary_id for u in User.select()) == ["S1", "S2"]
    screenshot(page, "provisioning-admin", "02-feed-done")
    page.get_by_test_id("refresh-runs").click()
    expect(page.get_by_test_id("runs")).to_contain_text("created 2")
    screenshot(page, "provisioning-admin", "03-runs")
