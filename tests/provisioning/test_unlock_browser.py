"""The station's Unlock button in real Chromium (issue 16, item 3), end to end: a patron locked by wrong PINs typed
at a real kiosk (its app, cache and sync over HTTP to a live central store), a user manager opens the record, sees
the lock and clicks Unlock; the kiosk's next sync lets the patron in with the right PIN. The slip of the unlock is
printed from its own page. axe-core finds no serious violation in the record's main region. Screenshots go to
test-artifacts/station/."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kiosk import sync
from kiosk.cache_db import cache_db
from tests.helpers import screenshot
from tests.kiosk.browser.helpers import AXE
from tests.kiosk.helpers import make_patrons
from tests.provisioning.helpers import log_in

pytestmark = pytest.mark.browser
BARCODE = "20000000000011"  # P1, PIN 2468 (tests/kiosk/helpers.py make_patrons)


def _pull(kiosk_app) -> None:
    with cache_db.connection_context():
        sync.pull(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"])


def _pin(kiosk, pin: str):
    tapped = kiosk.post("/identify", data={"identifier": BARCODE})
    return tapped if tapped.status_code == 423 else kiosk.post("/pin", data={"pin": pin})


def _axe_serious(page) -> list:
    page.add_script_tag(path=AXE)
    found = page.evaluate("""async () => {
        const r = await axe.run('main', {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}));
    }""")
    return [v for v in found if v["impact"] in ("serious", "critical")]


@pytest.fixture
def locked_at_kiosk(kiosk_app, central_db, station):
    """P1 in the kiosk's cache, then locked there by five wrong PINs; the kiosk's test client."""
    make_patrons()
    _pull(kiosk_app)
    kiosk = kiosk_app.test_client()
    for _ in range(5):
        _pin(kiosk, "1111")
    assert _pin(kiosk, "2468").status_code == 423
    return kiosk


def test_unlock_button_then_the_kiosks_sync_lets_the_patron_in(page, station_url, kiosk_app, locked_at_kiosk):
    page.set_default_timeout(15000)
    log_in(page, station_url, "manager")
    page.goto(station_url + "/patrons/P1")
    expect(page.get_by_test_id("pin-lockout-state")).to_have_text("Locked")
    expect(page.get_by_test_id("pin-lockout")).to_contain_text("kiosk-1")
    screenshot(page, "station", "desk-unlock-1-locked")
    page.get_by_test_id("unlock").click()
    expect(page.get_by_test_id("pin-lockout-state")).to_contain_text("Cleared by manager")
    expect(page.get_by_test_id("unlock")).to_have_count(0)
    screenshot(page, "station", "desk-unlock-2-cleared")
    _pull(kiosk_app)
    answer = _pin(locked_at_kiosk, "2468")
    assert answer.status_code == 200 and "Middlemarch" in answer.get_data(as_text=True)


def test_the_record_with_a_lock_is_axe_clean(page, station_url, locked_at_kiosk):
    page.set_default_timeout(15000)
    log_in(page, station_url, "manager")
    page.goto(station_url + "/patrons/P1")
    expect(page.get_by_test_id("unlock")).to_be_visible()
    assert _axe_serious(page) == []


def test_the_unlock_slip_prints_from_a_page_of_its_own(page, station_url, locked_at_kiosk):
    page.set_default_timeout(15000)
    log_in(page, station_url, "manager")
    page.goto(station_url + "/patrons/P1")
    page.get_by_test_id("unlock").click()
    with page.context.expect_page() as opened:
        page.get_by_test_id("print-slip").click()
    slip = opened.value
    slip.wait_for_load_state()
    expect(slip.get_by_test_id("slip-text")).to_contain_text("PIN lock cleared at the desk")
    screenshot(slip, "station", "desk-unlock-3-slip")
    slip.evaluate("() => { window.printed = 0; window.print = () => { window.printed += 1; }; }")
    slip.get_by_test_id("print-now").click()
    assert slip.evaluate("() => window.printed") == 1
