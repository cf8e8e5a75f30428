"""``POST /api/v1/patrons/{id}/verify-pin`` with ``{"password": ...}``: kiosks signing a patron in without a
card. A local patron's password is checked against their Argon2id hash; the secret is in the body only and
never logged (upstream patrons: tests/upstream/test_pin.py)."""
import logging

from library_kiosk.central.store.models import User
from library_kiosk.domain.hashing import hash_secret
from tests.store.factories import patron

PATH = "/api/v1/patrons/P1/verify-pin"


def test_a_local_patrons_password_is_checked_against_its_hash(api, caplog):
    user = patron("P1")
    User.update(password_hash=hash_secret("Orchid-lantern-73")).where(User.id == user.id).execute()
    with caplog.at_level(logging.DEBUG):
        assert api.post(PATH, json={"password": "Orchid-lantern-73"}).json["ok"] is True
        assert api.post(PATH, json={"password": "orchid-lantern-73"}).json["ok"] is False
        assert api.post(PATH, json={"password": "2468"}).json["ok"] is False  # the PIN is not the password
        assert api.post(PATH, json={"pin": "2468"}).json["ok"] is True  # ... and PINs are checked as before
    assert not any("Orchid-lantern-73" in r.getMessage() for r in caplog.records)


def test_no_password_set_means_no_password_is_right(api):
    patron("P1")
    assert api.post(PATH, json={"password": "anything"}).json["ok"] is False


def test_bad_requests(api):
    patron("P1")
    empty = api.post(PATH, json={"password": " "})
    assert empty.status_code == 400 and empty.json["error"]["code"] == "password_required"
    assert api.post(PATH, json={"password": 1234}).json["error"]["code"] == "password_required"
    assert api.post(PATH, json={}).json["error"]["code"] == "pin_required"
    missing = api.post("/api/v1/patrons/nobody/verify-pin", json={"password": "x"})
    assert missing.status_code == 404 and missing.json["error"]["code"] == "patron_not_found"


def test_the_openapi_document_describes_the_password(api):
    body = api.get("/api/openapi.json").json["paths"]["/api/v1/patrons/{primary_id}/verify-pin"]["post"]
    schemas = body["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert [s["required"] for s in schemas] == [["pin"], ["password"]]
