"""The browser unit's session watches the page (library_kiosk/appliance/screen.py ``supervise``): it stops Chromium
when the kiosk has not heard from its page for ``[screen] page_silent_seconds``, so the unit starts afresh; never
while the kiosk itself does not answer, nor while the page is heard. A child process stands in for Chromium here
(what is supervised does not matter to the rule); tests/deploy/test_screen.py runs the real one under cage."""
import sys

import pytest

from kiosk.screen_seen import ScreenSeen
from library_kiosk.appliance.screen import (
    RESTART_EXIT,
    page_silence,
    restart_due,
    screen_settings,
    seen_url,
    supervise,
)
from tests.helpers import LiveServer, free_port

FOREVER = [sys.executable, "-c", "import time; time.sleep(600)"]


class Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def heard(kiosk_app):
    """The real kiosk app served over HTTP, its page-silence clock in the test's hands."""
    clock = Clock()
    kiosk_app.extensions["screen_seen"] = ScreenSeen(clock)
    server = LiveServer(kiosk_app)
    yield clock, kiosk_app.extensions["screen_seen"], seen_url(server.url + "/")
    server.stop()


@pytest.mark.parametrize(("silence", "browser_seconds", "due"), [
    (181, 500, True),
    (180, 500, False),   # exactly the limit: not yet
    (500, 100, False),   # a browser younger than the limit gets its chance to load the page
    (None, 500, False),  # the kiosk does not answer: its own watchdog's business
    (5, 500, False),
])
def test_a_restart_is_due_only_after_the_limit_for_a_browser_at_least_that_old(silence, browser_seconds, due):
    assert restart_due(silence, browser_seconds, 180) is due


def test_the_limit_is_three_minutes_by_default_never_under_a_minute_and_0_turns_the_watch_off():
    kiosk = {"host": "127.0.0.1", "port": 8080}
    assert screen_settings({"kiosk": kiosk, "screen": {}})["page_silent_seconds"] == 180
    assert screen_settings({"kiosk": kiosk, "screen": {"page_silent_seconds": 0}})["page_silent_seconds"] == 0
    with pytest.raises(ValueError, match="at least 60"):
        screen_settings({"kiosk": kiosk, "screen": {"page_silent_seconds": 30}})


def test_the_silence_is_read_from_the_kiosk_beside_the_page(heard):
    clock, seen, url = heard
    assert url.endswith("/screen/seen")
    clock.now += 12
    assert page_silence(url) == 12


def test_a_kiosk_that_does_not_answer_reports_no_silence():
    assert page_silence(f"http://127.0.0.1:{free_port()}/screen/seen", timeout=2) is None


def test_a_browser_whose_page_went_silent_is_stopped_and_the_session_ends_for_a_restart(heard, capfd):
    clock, seen, url = heard
    seen.seen()
    clock.now += 200  # the page was last heard 200 s ago, and the browser started 200 s ago
    browser_age = iter([0.0] + [200.0] * 1000)
    status = supervise(FOREVER, url, limit=180, check_seconds=0.05, clock=browser_age.__next__)
    assert status == RESTART_EXIT  # (supervise returns once the stopped browser has exited)
    assert "has not heard from its page for 200 s" in capfd.readouterr().err


def test_the_browser_is_left_alone_while_the_page_is_heard(heard):
    clock, seen, url = heard
    seen.seen()  # heard just now, and it stays so: the stand-in exits by itself, with its own status
    browser = [sys.executable, "-c", "import time; time.sleep(1); raise SystemExit(3)"]
    assert supervise(browser, url, limit=180, check_seconds=0.05, clock=iter([0.0] + [500.0] * 1000).__next__) == 3


def test_the_browser_is_left_alone_while_the_kiosk_does_not_answer():
    browser = [sys.executable, "-c", "import time; time.sleep(1); raise SystemExit(0)"]
    url = f"http://127.0.0.1:{free_port()}/screen/seen"
    assert supervise(browser, url, limit=180, check_seconds=0.05, clock=iter([0.0] + [500.0] * 1000).__next__) == 0


def test_a_browser_that_exits_ends_the_session_with_its_status(heard):
    clock, seen, url = heard
    assert supervise([sys.executable, "-c", "raise SystemExit(4)"], url, limit=180) == 4


def _doctor_config(kiosk_app, url: str) -> dict:
    from urllib.parse import urlsplit

    config = dict(kiosk_app.config["KIOSK"])
    config["kiosk"] = dict(config["kiosk"], host="127.0.0.1", port=urlsplit(url).port)
    return config


def test_doctor_passes_a_kiosk_that_hears_its_page(heard, kiosk_app):
    from library_kiosk.appliance.doctor import check_screen_page

    clock, seen, url = heard
    seen.seen()
    clock.now += 25
    check = check_screen_page(_doctor_config(kiosk_app, url))
    assert (check.status, check.finding) == ("PASS", "the kiosk heard from the page on its screen 25 s ago")


def test_doctor_warns_of_a_kiosk_that_has_not_heard_its_page_and_says_where_to_look(heard, kiosk_app):
    from library_kiosk.appliance.doctor import check_screen_page

    clock, seen, url = heard
    clock.now += 600  # nothing heard since the kiosk started, 10 minutes ago
    check = check_screen_page(_doctor_config(kiosk_app, url))
    assert (check.status, "for 600 s" in check.finding, "journalctl -u kiosk-browser" in check.fix) == (
        "WARN", True, True)


def test_doctor_leaves_the_screen_out_when_the_kiosk_does_not_answer(kiosk_app):
    from library_kiosk.appliance.doctor import check_screen_page

    assert check_screen_page(_doctor_config(kiosk_app, f"http://127.0.0.1:{free_port()}/")) is None


def test_prepare_refuses_a_limit_under_a_minute_in_plain_words(tmp_path, monkeypatch, capsys):
    from library_kiosk.appliance.screen import prepare

    monkeypatch.setenv("KIOSK_SCREEN_PAGE_SILENT_SECONDS", "30")
    assert prepare(str(tmp_path / "screen.json")) == 2
    assert "page_silent_seconds must be 0 (off) or at least 60" in capsys.readouterr().err
    assert not (tmp_path / "screen.json").exists()
