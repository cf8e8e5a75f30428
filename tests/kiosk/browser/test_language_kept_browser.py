"""The language chosen on the attract screen stays through Help and Back, and on Help when switched there; the
attract screen's idle timer brings back the kiosk's own language for the next person (the stranger's trial)."""
import pytest

pytestmark = pytest.mark.browser


def _french(page, url):
    page.goto(url)
    page.get_by_test_id("lang-fr").click()
    page.locator('html[lang="fr"]').wait_for(state="attached")


def test_french_stays_after_help_and_back(page, kiosk_url):
    _french(page, kiosk_url)
    page.get_by_test_id("help").click()
    page.get_by_test_id("help-back").click()
    page.get_by_test_id("identifier").wait_for()
    assert page.evaluate("() => document.documentElement.lang") == "fr"


def test_switching_language_on_help_stays_on_help(page, kiosk_url):
    page.goto(kiosk_url)
    page.get_by_test_id("help").click()
    page.get_by_test_id("call-staff").wait_for()
    page.get_by_test_id("lang-fr").click()
    page.get_by_role("heading", name="Aide").wait_for()


def test_a_language_chosen_before_a_tap_resets_when_nobody_comes(page, kiosk_url, kiosk_app):
    kiosk_app.config["KIOSK"]["kiosk"].update(idle_timeout_seconds=2)
    _french(page, kiosk_url)
    page.locator('html[lang="en"]').wait_for(state="attached", timeout=8000)
