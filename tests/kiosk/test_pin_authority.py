"""PINs at the kiosk, attacked (issue 20): the central store is the authority while it answers (its lock, made
at any kiosk, holds here too); offline the kiosk falls back to its own counters and check; wrong PINs on many
cards at one kiosk pause PIN entry there; and the PIN screen never names the card's holder."""
import datetime as dt

from kiosk import outbox, services
from kiosk.cache import cache_db
from library_kiosk.central.store import devices
from library_kiosk.central.store.staff import AuditEntry
from library_kiosk.domain import clock
from tests.helpers import device_client
from tests.kiosk.helpers import HX, fill_cache, pin_refused_offline
from tests.store.factories import patron

BARCODE = "20000000000011"  # P1, Zoë Ólafsdóttir, PIN 2468 (tests/kiosk/helpers.py make_patrons)


def _pin(kiosk, pin, barcode=BARCODE):
    kiosk.post("/identify", data={"identifier": barcode})
    return kiosk.post("/pin", data={"pin": pin})


def _later(**delta):
    clock.set_offset(clock.offset() + dt.timedelta(**delta))  # the pinned_day fixture puts the clock back


def test_the_pin_screen_does_not_name_the_cards_holder(kiosk):
    """Barcode to name cannot be enumerated: nothing of the patron before the PIN is right."""
    for response in (kiosk.post("/identify", data={"identifier": BARCODE}),
                     kiosk.post("/identify", data={"identifier": BARCODE}, headers=HX),
                     kiosk.post("/language", data={"lang": "fr"}),  # the PIN screen again, in French
                     kiosk.post("/pin", data={"pin": "1111"})):  # a wrong PIN: the screen again
        html = response.get_data(as_text=True)
        assert "Zoë" not in html and "Ólafsdóttir" not in html and "Zo&#235;" not in html
    kiosk.post("/language", data={"lang": "en"})
    assert "Zoë Ólafsdóttir" in kiosk.post("/pin", data={"pin": "2468"}).get_data(as_text=True)  # after: yes


def test_every_check_goes_to_the_central_store_while_it_answers(kiosk):
    wrong = _pin(kiosk, "1111")
    assert wrong.status_code == 401 and "4 attempts left" in wrong.get_data(as_text=True)
    checks = list(AuditEntry.select().where(AuditEntry.action == "kiosk.pin_check"))
    assert len(checks) == 1 and checks[0].operator == "kiosk:kiosk-1" and checks[0].primary_id == "P1"
    assert "Middlemarch" in kiosk.post("/pin", data={"pin": "2468"}).get_data(as_text=True)


def test_a_lock_made_through_another_kiosk_is_honoured_here(kiosk, central_app):
    _name, token = devices.enrol(devices.add("kiosk-2"))
    kiosk_2 = device_client(central_app, token)
    for n in range(5):  # five wrong PINs at kiosk-2
        kiosk_2.post("/api/v1/patrons/P1/verify-pin", json={"pin": f"000{n}"})
    refused = _pin(kiosk, "2468")  # then the right PIN, here
    html = refused.get_data(as_text=True)
    assert refused.status_code == 423 and "This card is locked" in html and "15 minutes" in html
    assert "Middlemarch" not in html and kiosk.get("/account").status_code == 302
    # the lock is kept here too: a new tap is refused at once, and would be offline as well
    assert kiosk.post("/identify", data={"identifier": BARCODE}).status_code == 423
    _later(minutes=16)
    assert "Middlemarch" in _pin(kiosk, "2468").get_data(as_text=True)


def test_offline_the_kiosk_falls_back_to_its_own_counters(kiosk, kiosk_app, live_central):
    wrong_pin = pin_refused_offline(kiosk_app)
    _pin(kiosk, wrong_pin)
    _pin(kiosk, wrong_pin)  # two wrong while online: counted at the central store, mirrored here
    live_central.stop()
    wrong = _pin(kiosk, wrong_pin)
    assert wrong.status_code == 401 and "2 attempts left" in wrong.get_data(as_text=True)  # the count goes on
    assert "Middlemarch" in _pin(kiosk, "2468").get_data(as_text=True)  # checked here, against the cached hash
    kiosk.post("/done")
    for _ in range(4):
        _pin(kiosk, wrong_pin)
    locked = _pin(kiosk, wrong_pin)
    assert locked.status_code == 423
    with cache_db.connection_context():
        assert [item.op_type for item in outbox.pending()] == ["lockout"]  # reported to staff on reconnect


def test_offline_a_pin_that_cannot_be_checked_is_refused_and_not_counted(kiosk, kiosk_app, live_central,
                                                                         monkeypatch):
    """``_check_offline`` is the one offline check: when it cannot decide, nothing is accepted or counted."""
    assert "Middlemarch" in _pin(kiosk, "2468").get_data(as_text=True)  # a kiosk that was online a moment ago
    kiosk.post("/done")
    live_central.stop()
    monkeypatch.setattr(services, "_check_offline", lambda account, pin: None)
    refused = _pin(kiosk, "2468")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 503 and "cannot be checked just now" in html and "attempts left" not in html
    monkeypatch.undo()
    assert "Middlemarch" in _pin(kiosk, "2468").get_data(as_text=True)


def test_wrong_pins_on_many_cards_pause_pin_entry_at_this_kiosk(kiosk, kiosk_app):
    barcodes = [f"2100000000{n:04d}" for n in range(5)]
    for n, barcode in enumerate(barcodes):
        patron(f"Q{n}", barcode=barcode, card=f"04CCCCCCCCCC{n:02d}")
    fill_cache(kiosk_app)
    answers = [_pin(kiosk, "1111", barcode) for barcode in barcodes for _ in range(2)]  # 10 wrong, 2 a card
    assert [a.status_code for a in answers] == [401] * 9 + [429]
    paused = _pin(kiosk, "2468")  # even the right PIN of another card waits
    html = paused.get_data(as_text=True)
    assert paused.status_code == 429 and "Too many wrong PINs have been typed at this kiosk" in html
    assert "Middlemarch" not in html
    assert len(AuditEntry.select().where(AuditEntry.action == "kiosk.pin_check")) == 10  # not even asked
    _later(seconds=61)
    assert "Middlemarch" in _pin(kiosk, "2468").get_data(as_text=True)


def test_the_central_stores_429_pauses_pin_entry_here(kiosk, central_app):
    central_app.config["KIOSK"]["central"]["pin_checks_per_device_per_minute"] = 2
    _pin(kiosk, "1111")
    _pin(kiosk, "1111")
    paused = _pin(kiosk, "2468")  # the right PIN, but the central store will not check it now
    html = paused.get_data(as_text=True)
    assert paused.status_code == 429 and "Please wait" in html and "Middlemarch" not in html
    _later(seconds=61)
    assert "Middlemarch" in _pin(kiosk, "2468").get_data(as_text=True)
