"""At 800×480 (the Pi's 7" panel), in English and French (the stranger's trial): the attract screen's buttons are
all on screen; the account's head says the membership's last day in full and the loans say their renewals left in
full (wrapped, never cut with "…"), for the demo's long-named patron; the "Are you still there?" overlay hides the
screen behind it, so nothing personal can be read while it asks."""
import datetime as dt

import pytest

from tests.helpers import LiveServer
from tests.kiosk.browser.helpers import scan_and_pin
from tests.kiosk.helpers import fill_cache, make_patrons
from tests.store.factories import TODAY, loan, patron

pytestmark = pytest.mark.browser

BARCODE = "20000000000088"


@pytest.fixture
def long_named_kiosk(kiosk_app, central_db, kiosk_config, reader_service):
    """The demo's long-named patron (store/demo.py, DEMO-LONGNAME) with two loans, one overdue, and every patron of
    ``make_patrons``."""
    kiosk_app.config["KIOSK"]["readers"]["service_url"] = reader_service
    make_patrons()
    user = patron("P8", barcode=BARCODE, card="04CCCCCCCCCC88", first_name="María-José Anaïs",
                  last_name="Fernández-de-Córdoba-Ólafsdóttir-Wójcik-Đorđević-Saint-Léger", group_code="21",
                  expiry=TODAY + dt.timedelta(days=400))
    loan(user, "A Brief History of Time", due=TODAY - dt.timedelta(days=3))
    loan(user, "Middlemarch", due=TODAY + dt.timedelta(days=10))
    fill_cache(kiosk_app)
    server = LiveServer(kiosk_app)
    yield server.url
    server.stop()


# Elements whose text is cut: wider than their box with overflow hidden, or set to end with an ellipsis.
CLIPPED = """(selector) => [...document.querySelectorAll(selector)].filter(el => el.getClientRects().length)
  .filter(el => el.scrollWidth > el.clientWidth + 1 || getComputedStyle(el).textOverflow === 'ellipsis')
  .map(el => el.innerText.trim().slice(0, 60))"""


def _small(page, url: str, lang: str) -> None:
    page.set_viewport_size({"width": 800, "height": 480})
    page.goto(url)
    page.get_by_test_id("identifier").wait_for()
    if lang == "fr":
        page.get_by_test_id("lang-fr").click()
        page.locator('html[lang="fr"]').wait_for(state="attached")


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_button_of_the_attract_screen_is_on_screen_at_800x480(page, long_named_kiosk, lang):
    _small(page, long_named_kiosk, lang)
    below = page.evaluate("""() => [...document.querySelectorAll('#screen main button, #screen main input')]
        .filter(el => el.getBoundingClientRect().bottom > innerHeight + 0.5).map(el => el.dataset.testid)""")
    assert below == []


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_account_head_and_loans_are_not_cut_at_800x480(page, long_named_kiosk, lang):
    _small(page, long_named_kiosk, lang)
    page.get_by_test_id("identifier").click()
    page.keyboard.type(BARCODE + "\n")
    for digit in "2468":
        page.get_by_test_id(f"key-{digit}").click()
    page.get_by_test_id("pin-ok").click()
    page.get_by_test_id("account").wait_for()
    cut = page.evaluate(CLIPPED, ".account-head h1, .account-head .meta, [data-testid=expiry], table.loans .detail")
    assert cut == []


def test_the_still_there_overlay_hides_the_account_behind_it(page, long_named_kiosk, kiosk_app):
    kiosk_app.config["KIOSK"]["kiosk"].update(idle_timeout_seconds=30, idle_warning_seconds=29)
    page.set_viewport_size({"width": 800, "height": 480})
    scan_and_pin(page, long_named_kiosk, BARCODE)
    page.locator("#idle:not([hidden])").wait_for()
    ground = page.evaluate("() => getComputedStyle(document.getElementById('idle')).backgroundColor")
    assert ground.startswith("rgb(")  # (an "rgba(...)" ground lets the screen behind show through)
