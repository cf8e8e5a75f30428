"""The station's search in real Chromium: a name typed without its accents lists the patron, the results page
through, axe-core finds no serious violation on the page, and a scanned barcode opens the record.
Screenshots go to test-artifacts/station/."""
import pytest
from playwright.sync_api import expect

from tests.helpers import screenshot
from tests.kiosk.browser.helpers import AXE
from tests.provisioning.helpers import log_in
from tests.store import factories

pytestmark = pytest.mark.browser


def axe_check(page, name: str) -> None:
    """No serious or critical WCAG 2.x A/AA violation on the page, its menu bar included (axe-core)."""
    page.add_script_tag(path=AXE)
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}));
    }""")
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, f"axe on {name}: {bad}"


@pytest.fixture
def patrons(station):
    factories.patron("P100", barcode="20000000000100", card=None, first_name="Inès", last_name="Wójcik")
    for i in range(30):
        factories.patron(f"P{i:03d}", barcode=None, card=None, first_name=f"Ann{i:02d}", last_name="Nowak")


def test_search_finds_without_accents_pages_through_and_is_axe_clean(page, station_url, patrons):
    page.set_default_timeout(15000)
    log_in(page, station_url, "desk")
    page.fill("#q", "wojcik")
    page.click("text=Go")
    expect(page.get_by_test_id("results")).to_contain_text("Wójcik, Inès")
    axe_check(page, "station search results")
    screenshot(page, "station", "search-results")
    page.fill("#q", "NOWAK")
    page.click("text=Go")
    expect(page.get_by_test_id("result-count")).to_contain_text("page 1 of 2")
    page.get_by_test_id("next-page").click()
    expect(page.get_by_test_id("result-row")).to_have_count(5)
    axe_check(page, "station search, second page")
    screenshot(page, "station", "search-page-2")


def test_a_scanned_barcode_opens_the_record(page, station_url, patrons):
    page.set_default_timeout(15000)
    log_in(page, station_url, "desk")
    page.fill("#q", "20000000000100")
    page.keyboard.press("Enter")
    page.wait_for_url("**/patrons/P100")
    expect(page.locator("h1")).to_contain_text("Wójcik")
