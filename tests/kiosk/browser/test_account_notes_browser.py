"""The library's notes for the patron (user_viewable) on the kiosk's account screen in real Chromium (issue 17):
at 800×480 (the Pi's 7" panel) and 1920×1080 the *Messages* tab is on screen and reachable, and its panel shows each
note in full, inside the screen's width (in French too), in text of at least 20 px at 800×480; axe-core finds
nothing serious."""
from __future__ import annotations

import pytest

from library_kiosk.central.store import records
from library_kiosk.central.store.models import User
from tests.helpers import screenshot
from tests.kiosk.browser.helpers import axe_check, scan_and_pin
from tests.kiosk.helpers import fill_cache

pytestmark = pytest.mark.browser

SHORT = "Your new card is ready: please collect it at the Science Library desk."
LONG = ("Your membership of the Senate House Library ends with this term. To keep borrowing, bring proof of "
        "your new course to the Registry before 1 October; until then renewals stay open. "
        "Reference: UCL-MEMBERSHIP-RENEWAL-2026-AUTUMN-TERM-STUDENT-ACCESS-FORM")

MEASURE = """() => {
  const notes = [...document.querySelectorAll('[data-testid="note"]')].map((el) => {
    const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, size: parseFloat(getComputedStyle(el).fontSize), shown: el.checkVisibility(),
            text: el.innerText};
  });
  const tab = document.getElementById("tab-notes").getBoundingClientRect();
  return {notes, tab: {left: tab.left, right: tab.right, top: tab.top, bottom: tab.bottom, height: tab.height},
          width: innerWidth, height: innerHeight, scroll: document.documentElement.scrollWidth};
}"""


@pytest.fixture
def with_notes(kiosk_url, kiosk_app):
    user = User.get(User.primary_id == "P1")
    for text in (SHORT, LONG):
        records.save_row(user, "note", {"note_text": text, "note_type": "OTHER", "user_viewable": "on"}, "desk")
    records.save_row(user, "note", {"note_text": "Staff only: not for the patron"}, "desk")
    fill_cache(kiosk_app)
    return kiosk_url


@pytest.mark.parametrize(("size", "lang"), [((800, 480), "en"), ((800, 480), "fr"), ((1920, 1080), "en")],
                         ids=["800x480", "800x480-fr", "1920x1080"])
def test_the_messages_tab_shows_each_note_in_full_on_screen(page, with_notes, size, lang):
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    scan_and_pin(page, with_notes, "20000000000011")
    page.get_by_role("heading", name="Zoë Ólafsdóttir").wait_for()
    if lang == "fr":
        page.get_by_test_id("lang-fr").click()
        page.get_by_role("tab", name="Amendes et frais (1)").wait_for()
    page.get_by_test_id("tab-notes").click()
    page.locator("#panel-notes:not([hidden])").wait_for()
    seen = page.evaluate(MEASURE)
    screenshot(page, "kiosk", f"account-notes-{width}x{height}-{lang}")
    axe_check(page, f"account-notes-{width}x{height}-{lang}")
    tab, notes = seen["tab"], seen["notes"]
    checks = {
        "texts": [n["text"] for n in notes] == [SHORT, LONG],
        "shown": all(n["shown"] for n in notes),
        "inside the width": all(n["left"] >= 0 and n["right"] <= width for n in notes) and seen["scroll"] <= width,
        "text of 20 px": all(n["size"] >= 19.5 for n in notes),
        "tab on screen, 48 px": tab["left"] >= 0 and tab["right"] <= width and tab["top"] >= 0
                                and tab["bottom"] <= height and tab["height"] >= 48,
    }
    assert [name for name, ok in checks.items() if not ok] == [], seen
    assert "Staff only" not in page.content()
