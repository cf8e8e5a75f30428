"""The kiosk fleet page in real Chromium: one quiet kiosk and one healthy one, the quiet one
highlighted; revoking asks for confirmation. Screenshot: test-artifacts/provisioning/fleet.png."""
import datetime as dt
import json

import pytest
from playwright.sync_api import expect

from library_kiosk.central.store import devices
from library_kiosk.central.store.models import _now
from tests.helpers import screenshot
from tests.provisioning.helpers import log_in

pytestmark = pytest.mark.browser
BEAT = {"version": "1.4.2", "uptime_seconds": 273600, "outbox_length": 0,
        "readers": [{"name": "Desk reader", "online": True, "technology": "nfc"}], "errors": []}


def _kiosk(name, minutes_ago, **beat):
    devices.enrol(devices.add(name))
    devices.Device.update(last_heartbeat=_now() - dt.timedelta(minutes=minutes_ago),
                          heartbeat=json.dumps({**BEAT, **beat})).where(devices.Device.name == name).execute()


def test_the_fleet_shows_a_quiet_kiosk_highlighted(page, station_url):
    _kiosk("lobby-kiosk", 1)
    _kiosk("basement-kiosk", 45, outbox_length=7, readers=[{"name": "Desk reader", "online": False}],
           errors=[{"at": "2026-11-25T09:12:00Z", "message": "central store not reachable: timed out"}])
    page.set_default_timeout(15000)
    log_in(page, station_url, "admin")
    page.get_by_test_id("menu-kiosks").get_by_role("button").click()  # the menu group (page.html)
    page.click("a:text('Kiosk fleet')")
    expect(page.locator("h1")).to_have_text("Kiosk fleet")
    quiet, healthy = page.get_by_test_id("device-basement-kiosk"), page.get_by_test_id("device-lobby-kiosk")
    expect(quiet).to_have_attribute("data-quiet", "yes")
    expect(quiet.get_by_test_id("quiet")).to_be_visible()
    expect(quiet).to_contain_text("45 min ago")
    expect(quiet).to_contain_text("1 offline (Desk reader)")
    expect(healthy).to_have_attribute("data-quiet", "no")
    expect(healthy).to_contain_text("1 min ago")
    assert quiet.locator("td").first.evaluate("c => getComputedStyle(c).backgroundColor") != \
        healthy.locator("td").first.evaluate("c => getComputedStyle(c).backgroundColor")
    screenshot(page, "provisioning", "fleet")
    messages = []
    page.on("dialog", lambda dialog: (messages.append(dialog.message), dialog.accept()))
    page.get_by_test_id("revoke-basement-kiosk").click()
    expect(page.get_by_test_id("notice")).to_contain_text("basement-kiosk is revoked")
    assert messages and "Revoke kiosk basement-kiosk?" in messages[0]
    expect(page.get_by_test_id("device-basement-kiosk")).to_contain_text("revoked")
    assert devices.Device.get(devices.Device.name == "basement-kiosk").status == "revoked"
