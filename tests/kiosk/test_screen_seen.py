"""The page says it is alive (POST /screen/seen) and the browser's supervisor asks when it last did
(GET /screen/seen): kiosk/screen_seen.py, on an injected clock."""
from kiosk.screen_seen import ScreenSeen


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_silence_counts_from_the_start_until_the_page_is_first_heard(kiosk_app):
    clock = Clock()
    kiosk_app.extensions["screen_seen"] = ScreenSeen(clock)
    clock.now += 42
    assert kiosk_app.test_client().get("/screen/seen").get_json() == {"silent_seconds": 42.0, "seen": False}


def test_silence_counts_from_the_last_time_the_page_was_heard(kiosk_app):
    clock = Clock()
    kiosk_app.extensions["screen_seen"] = ScreenSeen(clock)
    client = kiosk_app.test_client()
    clock.now += 300
    assert client.post("/screen/seen").status_code == 204
    clock.now += 7.5
    assert client.get("/screen/seen").get_json() == {"silent_seconds": 7.5, "seen": True}


def test_being_heard_is_no_usage_and_nothing_personal(kiosk_app):
    answer = kiosk_app.test_client().post("/screen/seen")
    assert (answer.status_code, answer.data) == (204, b"")
