"""The offline PIN check at the kiosk (domain/offline_pin.py, kiosk/device_keys.py): with the central store away
the kiosk decides from a few bits of a keyed check value; with no value or no key it refuses and counts nothing."""
from kiosk.cache import cache_db
from kiosk.device_keys import keys_path
from library_kiosk.domain import offline_pin

BARCODE = "20000000000011"  # P1, PIN 2468 (tests/kiosk/helpers.py make_patrons)


def _pin(kiosk, pin):
    kiosk.post("/identify", data={"identifier": BARCODE})
    return kiosk.post("/pin", data={"pin": pin})


def _wrong_pin_the_check_refuses(kiosk_app) -> str:
    """A wrong PIN whose check value also differs (about 63 of 64 do): the kiosk must refuse it offline."""
    with cache_db.connection_context():
        cache = kiosk_app.extensions["patron_cache"]
        value, key = cache.get("P1").pin_check, cache.device_keys().pin_check_key
    return next(p for p in (f"{n:04d}" for n in range(10_000))
                if p != "2468" and not offline_pin.matches(key, "P1", p, value))


def test_offline_the_right_pin_opens_the_account_and_a_wrong_one_is_refused(kiosk, kiosk_app, live_central):
    wrong = _wrong_pin_the_check_refuses(kiosk_app)
    live_central.stop()
    refused = _pin(kiosk, wrong)
    assert refused.status_code == 401 and "4 attempts left" in refused.get_data(as_text=True)
    assert "Middlemarch" in _pin(kiosk, "2468").get_data(as_text=True)


def test_offline_without_a_check_value_a_pin_is_not_checked_and_not_counted(kiosk, kiosk_app, live_central):
    from kiosk.cache import CachedPatron

    with cache_db.connection_context():  # as a central store with offline_pin_check_bits = 0 sends it
        row = CachedPatron.get_by_id("P1")
        CachedPatron.update(document=row.document.replace(
            f'"pin_check":"{kiosk_app.extensions["patron_cache"].get("P1").pin_check}"', '"pin_check":""')).where(
            CachedPatron.primary_id == "P1").execute()
    live_central.stop()
    refused = _pin(kiosk, "2468")
    assert refused.status_code == 503 and "cannot be checked just now" in refused.get_data(as_text=True)
    assert kiosk.get("/account").status_code == 302


def test_a_kiosk_started_while_the_central_store_is_away_says_it_is_still_starting(kiosk, kiosk_app, config,
                                                                                 live_central):
    import os

    from kiosk.device_keys import KeyRing

    os.remove(keys_path(config))  # a power cut: the runtime directory is gone, and a new process starts
    kiosk_app.extensions["patron_cache"].keys = KeyRing(keys_path(config), kiosk_app.extensions["central"])
    live_central.stop()
    answer = kiosk.post("/identify", data={"identifier": BARCODE})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 503 and "still starting" in html and "not registered" not in html
