"""PINs of upstream patrons: their accounts carry no PIN hash, so the kiosk asks the central
store (``POST /api/v1/patrons/{id}/verify-pin``, the PIN in the body), which asks the library
system (Alma ``op=auth`` through Prism; SIP2 patron information with AD). Offline, the PIN
is refused with a clear message and nothing is counted: an unchecked PIN is never accepted."""
import logging

import pytest

from library_kiosk.central import api as central
from tests.helpers import (
    TODAY,  # the pinned day
    device_client,
)
from tests.upstream.sip2_servers import PysipServer


@pytest.fixture
def central_app(alma_central):
    """The central store in front of Alma (Prism); the kiosk fixtures build on this one."""
    return alma_central


def test_the_central_store_asks_alma(central_app, alma, caplog, device_token):
    fake, _url = alma
    api = device_client(central_app, device_token)
    api.post("/api/v1/patrons/refresh", query_string={"identifier": "04AABBCCDDEE01"})
    path = "/api/v1/patrons/AL1/verify-pin"
    with caplog.at_level(logging.DEBUG):
        assert api.post(path, json={"pin": "2468"}).json["ok"] is True
        assert api.post(path, json={"pin": "9999"}).json["ok"] is False
    assert [e["args"].get("op") for e in fake.log[-2:]] == ["auth", "auth"]
    assert not any(e["violations"] for e in fake.log)
    assert api.post(path, json={}).status_code == 400
    assert api.post(path, json={"pin": "  "}).json["error"]["code"] == "pin_required"
    assert api.post("/api/v1/patrons/nobody/verify-pin", json={"pin": "2468"}).status_code == 404
    fake.down = True
    down = api.post(path, json={"pin": "2468"})
    assert down.status_code == 503 and down.json["error"]["code"] == "upstream_unavailable"
    # (peewee's DEBUG lines show SQL parameters: the offline check value, e.g. "16:24688", may hold those digits)
    assert not any("2468" in r.getMessage() for r in caplog.records if r.name not in ("werkzeug", "peewee"))


@pytest.fixture
def sip2_api(central_db, config, device_token):
    """The central store in front of pysip2's server, with the test patron read once."""
    server = PysipServer()
    try:
        config["upstream"].update({"kind": "sip2", "sip2_port": server.port, "sip2_login_user": "kiosk",
                                   "sip2_login_password": "s3cret", "sip2_institution_id": "MAIN",
                                   "sip2_timeout_seconds": 2, "fresh_seconds": 0})
        api = device_client(central.create_app(config, today=lambda: TODAY), device_token)
        api.post("/api/v1/patrons/refresh", query_string={"identifier": "21000000001"})
        yield api
    finally:
        server.stop()


def test_the_central_store_asks_a_sip2_server(sip2_api):
    path = "/api/v1/patrons/21000000001/verify-pin"
    assert sip2_api.post(path, json={"pin": "2468"}).json["ok"] is True
    assert sip2_api.post(path, json={"pin": "0000"}).json["ok"] is False


def test_a_password_is_checked_by_the_library_system(central_app, alma, caplog, device_token):
    """Signing in without a card: an upstream patron's password goes to Alma's op=auth (as the PIN does);
    a password set here (the provisioning station) is checked against our own hash instead."""
    from library_kiosk.central.store.models import User
    from library_kiosk.domain.hashing import hash_secret

    fake, _url = alma
    fake.pins["AL1"] = "Alma-password-9"
    api = device_client(central_app, device_token)
    api.post("/api/v1/patrons/refresh", query_string={"identifier": "04AABBCCDDEE01"})
    path = "/api/v1/patrons/AL1/verify-pin"
    with caplog.at_level(logging.DEBUG):
        assert api.post(path, json={"password": "Alma-password-9"}).json["ok"] is True
        assert api.post(path, json={"password": "not-it"}).json["ok"] is False
    assert [e["args"].get("op") for e in fake.log[-2:]] == ["auth", "auth"]
    assert not any(e["violations"] for e in fake.log)
    # werkzeug: the fake Alma's own access log (Alma's op=auth takes the password as a query parameter)
    assert not any("Alma-password-9" in r.getMessage() for r in caplog.records if r.name != "werkzeug")
    fake.down = True
    down = api.post(path, json={"password": "Alma-password-9"})
    assert down.status_code == 503 and down.json["error"]["code"] == "upstream_unavailable"
    fake.down = False
    User.update(password_hash=hash_secret("Set-at-the-desk-1")).where(User.primary_id == "AL1").execute()
    calls = len(fake.log)
    assert api.post(path, json={"password": "Set-at-the-desk-1"}).json["ok"] is True
    assert len(fake.log) == calls  # our own hash decided: no call to Alma


def test_a_password_is_checked_by_a_sip2_server(sip2_api):
    path = "/api/v1/patrons/21000000001/verify-pin"
    assert sip2_api.post(path, json={"password": "2468"}).json["ok"] is True  # AD: the patron password
    assert sip2_api.post(path, json={"password": "0000"}).json["ok"] is False


def test_the_kiosk_signs_in_an_alma_patron_with_the_password(synced_kiosk, central_app, alma, device_token):
    from tests.kiosk.helpers import fill_cache

    fake, _url = alma
    fake.pins["AL1"] = "Alma-password-9"
    device_client(central_app, device_token).post("/api/v1/patrons/refresh",
                                                  query_string={"identifier": "04AABBCCDDEE01"})
    fill_cache(synced_kiosk)
    kiosk = synced_kiosk.test_client()
    wrong = kiosk.post("/sign-in", data={"user_name": "20000000000111", "password": "not-it"})
    assert wrong.status_code == 401
    right = kiosk.post("/sign-in", data={"user_name": "20000000000111", "password": "Alma-password-9"})
    assert right.status_code == 200 and "Middlemarch" in right.get_data(as_text=True)
    fake.down = True
    kiosk.post("/done")
    refused = kiosk.post("/sign-in", data={"user_name": "AL1", "password": "Alma-password-9"})
    assert refused.status_code == 503 and "Middlemarch" not in refused.get_data(as_text=True)


def _kiosk_with_alma_patron(synced_kiosk, central_app, device_token):
    from tests.kiosk.helpers import fill_cache

    device_client(central_app, device_token).post("/api/v1/patrons/refresh",
                                                  query_string={"identifier": "04AABBCCDDEE01"})
    fill_cache(synced_kiosk)
    kiosk = synced_kiosk.test_client()
    html = kiosk.post("/identify", data={"identifier": "20000000000111"}).get_data(as_text=True)
    assert "Enter your PIN" in html
    return kiosk


def test_the_kiosk_checks_an_upstream_patrons_pin_through_the_central_store(synced_kiosk, central_app, alma,
                                                                            device_token):
    from kiosk.cache import cache_db

    kiosk = _kiosk_with_alma_patron(synced_kiosk, central_app, device_token)
    with cache_db.connection_context():
        assert synced_kiosk.extensions["patron_cache"].get("AL1").pin_check == ""  # nothing to check offline yet
    wrong = kiosk.post("/pin", data={"pin": "1111"})
    assert wrong.status_code == 401 and "4 attempts left" in wrong.get_data(as_text=True)  # counted as usual
    right = kiosk.post("/pin", data={"pin": "2468"})
    assert right.status_code == 200 and "Middlemarch" in right.get_data(as_text=True)
    from library_kiosk.central.store.fleet_keys import pin_check_key
    from library_kiosk.central.store.models import User
    from library_kiosk.domain import offline_pin

    # the PIN Alma said was right now has an offline check value, for the times Alma or the store is away
    assert User.get(User.primary_id == "AL1").pin_check == offline_pin.check_value(pin_check_key(), "AL1", "2468")


def test_the_kiosk_refuses_a_pin_it_cannot_check(synced_kiosk, central_app, alma, live_central, device_token):
    fake, _url = alma
    kiosk = _kiosk_with_alma_patron(synced_kiosk, central_app, device_token)
    fake.down = True  # the library system is down: the central store cannot ask it
    refused = kiosk.post("/pin", data={"pin": "2468"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 503 and "cannot be checked just now" in html and "Middlemarch" not in html
    assert "attempts left" not in html  # nothing was counted
    fake.down = False
    live_central.stop()  # and now the central store is offline too
    refused = kiosk.post("/pin", data={"pin": "2468"})
    assert refused.status_code == 503 and "Middlemarch" not in refused.get_data(as_text=True)
    assert kiosk.get("/account").status_code == 302  # never let in on an unchecked PIN
