"""Faults the patron must not be left with: the idle timeout ends a session while the reader service is down
(its status updates arrive every few seconds), and an unexpected error is a plain screen, not a framework page."""
import pytest

from tests.helpers import LiveServer, screenshot
from tests.kiosk.browser.helpers import scan_and_pin
from tests.kiosk.helpers import fill_cache, make_patrons


@pytest.fixture
def kiosk_without_reader(kiosk_app, central_db):
    """The kiosk with its reader service unreachable (the test config's http://127.0.0.1:9): the page gets a
    "reader offline" update at every retry."""
    make_patrons()
    fill_cache(kiosk_app)
    server = LiveServer(kiosk_app)
    yield server.url
    server.stop()


def test_the_idle_timeout_ends_the_session_while_the_reader_service_is_down(page, kiosk_without_reader, kiosk_app):
    kiosk_app.config["KIOSK"]["kiosk"].update(idle_timeout_seconds=8, idle_warning_seconds=4)
    scan_and_pin(page, kiosk_without_reader, "20000000000011")
    page.get_by_role("heading", name="Zoë Ólafsdóttir").wait_for()
    page.locator("#reader-status .offline").wait_for()  # the updates that used to restart the idle timer
    page.get_by_text("Thank you. Your session has ended.").wait_for(timeout=15000)
    assert "Zoë" not in page.content()


def test_an_unexpected_error_shows_a_plain_screen_and_ends_the_session(page, kiosk_without_reader, kiosk_app,
                                                                       monkeypatch):
    from kiosk import usage

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug in a screen")  # (a full cache is the out-of-order screen: test_out_of_order*.py)

    monkeypatch.setattr(usage, "account_shown", broken)  # the account screen's usage count, written to the cache
    scan_and_pin(page, kiosk_without_reader, "20000000000011")
    page.get_by_role("heading", name="This kiosk cannot do that just now").wait_for()
    assert "Internal Server Error" not in page.content() and "Zoë" not in page.content()
    page.get_by_test_id("back").click()
    page.get_by_test_id("identifier").wait_for()


def test_the_pin_pad_and_its_ok_fit_the_pi_screen(page, kiosk_without_reader):
    page.set_viewport_size({"width": 800, "height": 480})  # the official 7" touch display
    page.goto(kiosk_without_reader)
    page.get_by_test_id("identifier").wait_for()
    page.keyboard.type("20000000000011\n")
    for step in ("first", "after a wrong PIN"):
        page.get_by_test_id("pin-ok").wait_for()
        for target in ("pin-ok", "key-0", "key-1", "pin"):
            box = page.get_by_test_id(target).bounding_box()
            assert box["y"] >= 0 and box["y"] + box["height"] <= 480, (step, target, box)
        assert page.evaluate("() => document.documentElement.scrollHeight") <= 480, step
        screenshot(page, "kiosk", f"pin-pi-{'first' if step == 'first' else 'wrong'}-800x480")
        for digit in "1357":
            page.get_by_test_id(f"key-{digit}").click()
        page.get_by_test_id("pin-ok").click()
        page.get_by_test_id("pin-error").wait_for()
