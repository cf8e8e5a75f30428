"""A call for staff is never lost (issue 21): it goes through the outbox, queued while the central store is away
and made exactly once when it answers; the patron is told which."""
from kiosk import outbox, sync
from kiosk.cache_db import cache_db
from library_kiosk.central.store.kiosk_calls import StaffCall
from library_kiosk.domain import clock


def test_a_call_made_offline_is_queued_and_reaches_the_staff_station_once(kiosk, kiosk_app, central_db):
    cache = kiosk_app.extensions["patron_cache"]
    with cache_db.connection_context():
        sync.note_online(cache, False, "central store not reachable")  # the kiosk knows it is offline
    html = kiosk.post("/call-staff", data={"reason": "help"}).get_data(as_text=True)
    assert "Staff will be told as soon as this kiosk is back online" in html
    assert StaffCall.select().count() == 0
    with cache_db.connection_context():
        assert [item.op_type for item in outbox.pending()] == ["call_staff"]
        sync.cycle(kiosk_app.extensions["central"], cache)  # the central store answers again
        sync.cycle(kiosk_app.extensions["central"], cache)
        assert outbox.length() == 0
    assert StaffCall.select().count() == 1 and StaffCall.get().device == "kiosk-1"


def test_an_online_call_is_confirmed_and_leaves_nothing_queued(kiosk, kiosk_app, central_db):
    html = kiosk.post("/call-staff", data={"reason": "help"}).get_data(as_text=True)
    assert "A member of staff has been called" in html
    with cache_db.connection_context():
        assert outbox.length() == 0
    assert StaffCall.get().created <= clock.now()


# --- a double tap on "Call a member of staff" is one call (the stranger's trial): the button carries its own key ---

def _tap_key(kiosk) -> str:
    import re

    return re.search(r'"tap": "([0-9a-f]{32})"', kiosk.get("/help").get_data(as_text=True)).group(1)


def test_two_posts_of_one_tap_make_one_call_at_the_staff_station(kiosk, central_db):
    tap = _tap_key(kiosk)
    kiosk.post("/call-staff", data={"reason": "help", "tap": tap})
    kiosk.post("/call-staff", data={"reason": "help", "tap": tap})
    assert StaffCall.select().count() == 1


def test_the_second_post_of_one_tap_is_answered_as_called(kiosk, central_db):
    tap = _tap_key(kiosk)
    kiosk.post("/call-staff", data={"reason": "help", "tap": tap})
    html = kiosk.post("/call-staff", data={"reason": "help", "tap": tap}).get_data(as_text=True)
    assert "A member of staff has been called" in html


def test_two_posts_of_one_tap_queued_offline_are_one_operation(kiosk, kiosk_app, central_db):
    cache = kiosk_app.extensions["patron_cache"]
    with cache_db.connection_context():
        sync.note_online(cache, False, "central store not reachable")
    tap = _tap_key(kiosk)
    kiosk.post("/call-staff", data={"reason": "help", "tap": tap})
    kiosk.post("/call-staff", data={"reason": "help", "tap": tap})
    with cache_db.connection_context():
        assert outbox.length() == 1


def test_each_visit_to_help_gives_the_call_button_a_new_key(kiosk):
    assert _tap_key(kiosk) != _tap_key(kiosk)


def test_the_call_button_is_disabled_while_its_request_is_in_flight(kiosk):
    html = kiosk.get("/help").get_data(as_text=True)
    assert 'hx-disabled-elt="this" data-testid="call-staff"' in html
