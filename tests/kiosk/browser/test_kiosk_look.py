"""A kiosk, not a form (issue 15), in real Chromium: a tap is seen at once (the button looks pressed), a card the
reader reports says "Card read" until its screen comes, the optional tap sound plays only when switched on (at its
volume), and the end-of-session message leaves the plain attract screen, with its picture, for the next patron.
Screenshots in test-artifacts/screens/."""
from __future__ import annotations

import pytest

from hardware import client as reader_client
from tests.helpers import screenshot
from tests.kiosk.browser.helpers import axe_check, scan_and_pin, wait_for_reader_stream, watch_reader_stream

pytestmark = pytest.mark.browser

# Every sound the page starts: HTMLMediaElement.play recorded (Chromium without a sound device may refuse to play).
RECORD_SOUNDS = """window.sounds = [];
const play = HTMLMediaElement.prototype.play;
HTMLMediaElement.prototype.play = function () {
  window.sounds.push({src: this.currentSrc || this.src, volume: this.volume});
  return play.call(this).catch(() => {});
};"""

# Whether "Card read" was ever shown, however briefly (before the screen it opens replaced it).
WATCH_CARD_READ = """window.cardReadShown = false;
document.addEventListener("DOMContentLoaded", () => {
  const shown = document.getElementById("card-read");
  new MutationObserver(() => { if (!shown.hidden) window.cardReadShown = true; })
    .observe(shown, {attributes: true, attributeFilter: ["hidden"]});
});"""


@pytest.fixture
def look_settings(request):
    return getattr(request, "param", {})


@pytest.fixture
def config(config, look_settings):
    config["kiosk"].update(look_settings)
    return config


PRESSED = """(selector) => { const b = document.querySelector(selector), s = getComputedStyle(b);
  return [b.classList.contains('pressed'), s.boxShadow !== 'none'];
}"""


@pytest.mark.parametrize("theme", ["plain", "contrast"])
def test_a_button_looks_pressed_the_moment_it_is_touched(page, kiosk_url, theme):
    page.set_viewport_size({"width": 800, "height": 480})
    page.goto(kiosk_url)
    page.get_by_test_id("identifier").wait_for()
    if theme == "contrast":
        page.get_by_test_id("contrast").click()
        page.locator('#contrast-toggle[aria-pressed="true"]').wait_for()
        page.wait_for_function("() => !document.querySelector('.pressed')")
    before = page.evaluate(PRESSED, "[data-testid=help]")
    page.get_by_test_id("help").hover()
    page.mouse.down()
    during = page.evaluate(PRESSED, "[data-testid=help]")
    screenshot(page, "screens", f"look-pressed-{theme}")
    page.mouse.up()
    page.get_by_test_id("call-staff").wait_for()  # and the tap goes on to do what it does
    assert (before, during) == ([False, False], [True, True])


def test_a_card_read_by_the_reader_shows_card_read_until_its_screen_comes(page, kiosk_url, reader_service):
    watch_reader_stream(page)
    page.add_init_script(WATCH_CARD_READ)
    page.set_viewport_size({"width": 800, "height": 480})
    page.goto(kiosk_url)
    wait_for_reader_stream(page)
    reader_client.simulate(reader_service, "card", "04A1B2C3D4E5F6")
    page.get_by_test_id("pin-ok").wait_for()
    assert (page.evaluate("() => window.cardReadShown"), page.get_by_test_id("card-read").is_hidden()) == (True, True)


def test_card_read_is_on_screen_while_the_kiosk_looks_the_card_up(page, kiosk_url, reader_service):
    """The look of "Card read", held by keeping the kiosk's answer back (a routed request), for the screenshot
    and axe-core."""
    watch_reader_stream(page)
    page.set_viewport_size({"width": 800, "height": 480})
    held = []
    page.route("**/identify", lambda route: held.append(route))
    page.goto(kiosk_url)
    wait_for_reader_stream(page)
    reader_client.simulate(reader_service, "card", "04A1B2C3D4E5F6")
    page.get_by_test_id("card-read").wait_for()
    screenshot(page, "screens", "look-card-read")
    axe_check(page, "card read")
    held[0].continue_()
    page.get_by_test_id("pin-ok").wait_for()
    assert page.get_by_test_id("card-read").is_hidden()


def test_no_sound_by_default(page, kiosk_url):
    page.add_init_script(RECORD_SOUNDS)
    page.goto(kiosk_url)
    page.get_by_test_id("help").click()
    page.get_by_test_id("call-staff").wait_for()
    assert page.evaluate("() => window.sounds") == []


@pytest.mark.parametrize("look_settings", [{"tap_sound": True, "tap_volume": 0.25}], indirect=True)
def test_with_tap_sound_on_a_tap_plays_the_click_at_its_volume(page, kiosk_url, look_settings):
    page.add_init_script(RECORD_SOUNDS)
    page.goto(kiosk_url)
    page.get_by_test_id("help").click()
    page.get_by_test_id("call-staff").wait_for()
    sounds = page.evaluate("() => window.sounds")
    assert [(sound["src"].rsplit("/", 1)[-1], sound["volume"]) for sound in sounds] == [("tap.wav", 0.25)]


@pytest.mark.parametrize("size", [(800, 480), (720, 1280)])
def test_the_end_of_session_message_goes_back_to_the_plain_attract_screen(page, kiosk_url, kiosk_app, size):
    kiosk_app.config["KIOSK"]["kiosk"]["goodbye_seconds"] = 1  # (the setting, read as the screen is made)
    page.set_viewport_size({"width": size[0], "height": size[1]})
    scan_and_pin(page, kiosk_url, "20000000000011")
    page.get_by_test_id("account").wait_for()
    page.get_by_test_id("done").click()
    page.get_by_test_id("goodbye").wait_for()
    screenshot(page, "screens", f"look-goodbye-{size[0]}x{size[1]}")
    page.get_by_test_id("goodbye").wait_for(state="detached", timeout=5000)
    screenshot(page, "screens", f"look-after-goodbye-{size[0]}x{size[1]}")
    picture = page.evaluate("""() => { const p = document.querySelector('[data-testid=attract-picture]');
        return p.complete && p.naturalWidth > 0 && p.getBoundingClientRect().bottom <= innerHeight; }""")
    assert (picture, page.get_by_test_id("identifier").is_visible(), page.get_by_text("Thank you").count()) \
        == (True, True, 0)
