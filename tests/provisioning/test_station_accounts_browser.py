"""Staff accounts, sync conflicts dealt with and re-enrolling a kiosk, in real Chromium: an
administrator deactivates a staff account (confirmed) and its owner is refused at login; a desk
user changes their own password (a message next to the field first); a conflict is marked as dealt
with (its row swapped in place); a kiosk is re-enrolled (confirmed) and its new code shown.
Screenshots: test-artifacts/provisioning/."""
import pytest
from playwright.sync_api import expect

from library_kiosk.central.store import devices, staff
from library_kiosk.central.store.devices import SyncConflict
from tests.helpers import screenshot
from tests.provisioning.helpers import PASSWORDS, log_in

pytestmark = pytest.mark.browser
NEW = "Heron-window-4812"


def test_an_administrator_deactivates_an_account_and_its_owner_is_refused(page, browser, station_url):
    page.set_default_timeout(15000)
    messages = []
    page.on("dialog", lambda dialog: (messages.append(dialog.message), dialog.accept()))
    log_in(page, station_url, "admin")
    page.get_by_test_id("menu-administration").get_by_role("button").click()  # the menu group (page.html)
    page.click("nav a:text-is('Staff users')")
    expect(page.locator("h1")).to_have_text("Staff users")
    page.get_by_test_id("deactivate-desk").click()
    expect(page.get_by_test_id("notice")).to_contain_text("desk is deactivated")
    assert messages and messages[0].startswith("Deactivate desk?")
    expect(page.get_by_test_id("staff-desk").get_by_test_id("active")).to_have_text("deactivated")
    expect(page.get_by_test_id("reactivate-desk")).to_be_visible()
    screenshot(page, "provisioning", "staff-deactivated")
    other = browser.new_context().new_page()
    other.set_default_timeout(15000)
    log_in(other, station_url, "desk")
    expect(other.get_by_test_id("login-error")).to_have_text(staff.DEACTIVATED_LOGIN)
    other.context.close()


def test_a_desk_user_changes_their_own_password(page, station_url):
    page.set_default_timeout(15000)
    log_in(page, station_url, "desk")
    page.get_by_test_id("user-menu").click()  # the staff user's menu (page.html)
    page.click("a:text('My password')")
    expect(page.locator("h1")).to_have_text("My password")
    page.fill("#current_password", PASSWORDS["desk"])
    page.fill("#new_password", NEW)
    page.fill("#confirm_password", NEW + "!")
    page.click("text=Change my password")
    expect(page.get_by_test_id("error-confirm_password")).to_contain_text("not the same")
    expect(page.locator("#confirm_password")).to_have_attribute("aria-invalid", "true")
    page.fill("#current_password", PASSWORDS["desk"])
    page.fill("#new_password", NEW)
    page.fill("#confirm_password", NEW)
    page.click("text=Change my password")
    expect(page.get_by_test_id("notice")).to_have_text("Your password is changed.")
    assert staff.authenticate("desk", NEW) is not None


def test_a_conflict_is_marked_as_dealt_with_in_place(page, station_url):
    conflict = SyncConflict.create(device="kiosk-1", op_key="k", op_type="renew", primary_id="GONE",
                                   reason="patron_not_found")
    page.set_default_timeout(15000)
    log_in(page, station_url, "desk")
    page.get_by_test_id("menu-desk").get_by_role("button").click()  # the menu group (page.html)
    page.click("a:text('Sync conflicts')")
    row = page.get_by_test_id(f"conflict-{conflict.id}")
    expect(row).to_contain_text("Patron no longer exists")
    row.get_by_test_id(f"deal-{conflict.id}").click()
    expect(row.get_by_test_id("dealt")).to_contain_text("Dealt with by desk")
    expect(page.locator("h1")).to_have_text("Sync conflicts")  # the row was swapped, not the page
    page.click("[data-testid=show-dealt]")
    expect(page.locator("h1")).to_have_text("Sync conflicts dealt with")
    expect(page.get_by_test_id(f"conflict-{conflict.id}")).to_contain_text("Dealt with by desk")


def test_an_administrator_reenrols_a_kiosk_and_sees_its_code_once(page, station_url):
    devices.enrol(devices.add("lobby-kiosk"))
    page.set_default_timeout(15000)
    messages = []
    page.on("dialog", lambda dialog: (messages.append(dialog.message), dialog.accept()))
    log_in(page, station_url, "admin")
    page.get_by_test_id("menu-kiosks").get_by_role("button").click()  # the menu group (page.html)
    page.click("a:text('Kiosk fleet')")
    page.get_by_test_id("reenrol-lobby-kiosk").click()
    box = page.get_by_test_id("enrolment-code")
    expect(box).to_contain_text("One-time enrolment code for lobby-kiosk")
    assert messages and messages[0].startswith("Re-enrol kiosk lobby-kiosk?")
    code = box.get_by_test_id("code").inner_text()
    expect(page.get_by_test_id("device-lobby-kiosk")).to_contain_text("waiting for enrolment")
    screenshot(page, "provisioning", "fleet-reenrol")
    assert devices.enrol(code)[0] == "lobby-kiosk"
    page.reload()
    expect(page.locator("h1")).to_have_text("Kiosk fleet")
    expect(page.get_by_test_id("enrolment-code")).to_have_count(0)
    assert code not in page.content()


def test_an_administrator_changes_a_role_and_the_open_session_follows(page, browser, station_url):
    page.set_default_timeout(15000)
    other = browser.new_context().new_page()
    other.set_default_timeout(15000)
    log_in(other, station_url, "desk")
    expect(other.locator("nav")).not_to_contain_text("Register")
    log_in(page, station_url, "admin")
    page.get_by_test_id("menu-administration").get_by_role("button").click()  # the menu group (page.html)
    page.click("nav a:text-is('Staff users')")
    expect(page.get_by_test_id("change-role-admin")).to_have_count(0)  # not one's own
    page.get_by_test_id("role-desk").select_option("user_manager")
    page.get_by_test_id("change-role-desk").click()
    expect(page.get_by_test_id("notice")).to_contain_text("desk is now User manager")
    expect(page.get_by_test_id("staff-desk").get_by_test_id("role")).to_have_text("User manager")
    screenshot(page, "provisioning", "staff-role-changed")
    other.reload()
    expect(other.locator("nav")).to_contain_text("Register")  # the next request has the new rights
    other.context.close()
