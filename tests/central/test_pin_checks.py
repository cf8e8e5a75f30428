"""The PIN oracle, attacked (issue 20): ``POST /api/v1/patrons/{id}/verify-pin`` with a kiosk's device token.

The central store is the authority for PIN and password checks: it checks the PIN hash it holds, counts wrong
secrets per patron across every kiosk, locks the patron everywhere after ``[central] pin_max_attempts`` (and then
checks nothing, not even the right PIN), answers 429 with Retry-After beyond ``pin_checks_per_device_per_minute``
checks a minute from one token, and audits every check without the secret."""
import datetime as dt
import logging

from library_kiosk.central.store import devices, pin_checks
from library_kiosk.central.store.staff import AuditEntry
from library_kiosk.domain import clock
from tests.helpers import device_client
from tests.store.factories import patron

PATH = "/api/v1/patrons/P1/verify-pin"


def _later(**delta):
    clock.set_offset(clock.offset() + dt.timedelta(**delta))  # the pinned_day fixture puts the clock back


def _checks(primary_id="P1"):
    return list(AuditEntry.select().where((AuditEntry.action == "kiosk.pin_check")
                                          & (AuditEntry.primary_id == primary_id)).order_by(AuditEntry.id))


def _without_visit(answer: dict) -> dict:
    """A right secret's answer also names the patron's verified visit here (tests/central/test_visits.py)."""
    assert isinstance(answer.get("visit"), str) and len(answer["visit"]) == 32, answer
    return {key: value for key, value in answer.items() if key != "visit"}


def test_the_central_store_checks_the_pin_hash_it_holds(api, central_app):
    patron("P1")  # a local patron: the store holds the PIN's Argon2id hash

    class NoUpstream:
        def verify_pin(self, primary_id, pin):
            raise AssertionError("the library system was asked about a PIN whose hash the store holds")

    central_app.extensions["upstream"] = NoUpstream()
    right = api.post(PATH, json={"pin": "2468"})
    assert right.status_code == 200 and _without_visit(right.json) == {"ok": True, "attempts_left": 5,
                                                                       "locked_until": None}
    wrong = api.post(PATH, json={"pin": "1111"})
    assert wrong.json == {"ok": False, "attempts_left": 4, "locked_until": None}


def test_after_five_wrong_pins_the_patron_is_locked_and_nothing_is_checked(api, caplog):
    patron("P1")
    with caplog.at_level(logging.DEBUG):
        answers = [api.post(PATH, json={"pin": f"{n:04d}"}).json for n in range(1000, 1005)]
    assert [a["attempts_left"] for a in answers] == [4, 3, 2, 1, 0]
    assert not any(a["ok"] for a in answers)
    locked = answers[-1]["locked_until"]
    assert locked.endswith("Z")
    until = dt.datetime.fromisoformat(locked.rstrip("Z"))
    assert dt.timedelta(minutes=14) < until - clock.now() <= dt.timedelta(minutes=15)
    # the right PIN, while locked: not evaluated, the same refusal
    right = api.post(PATH, json={"pin": "2468"})
    assert right.status_code == 200 and right.json == {"ok": False, "attempts_left": 0, "locked_until": locked}
    assert "not checked, locked until" in _checks()[-1].detail
    # every check is audited with the device and the outcome, never the secret
    entries = _checks()
    assert len(entries) == 6 and {e.operator for e in entries} == {"kiosk:kiosk-1"}
    assert "wrong, 4 attempts left" in entries[0].detail and "locked at every kiosk" in entries[4].detail
    assert not any("2468" in e.detail or "1000" in e.detail for e in entries)
    assert not any("2468" in r.getMessage() for r in caplog.records)
    # once the lock has ended, the right PIN works again and clears the count
    _later(minutes=16)
    assert _without_visit(api.post(PATH, json={"pin": "2468"}).json) == {"ok": True, "attempts_left": 5,
                                                                           "locked_until": None}
    assert api.post(PATH, json={"pin": "0000"}).json["attempts_left"] == 4


def test_a_lock_made_through_one_kiosk_holds_at_every_kiosk(api, central_app):
    patron("P1")
    for n in range(5):
        api.post(PATH, json={"pin": f"999{n}"})
    _name, token = devices.enrol(devices.add("kiosk-2"))
    kiosk_2 = device_client(central_app, token)
    answer = kiosk_2.post(PATH, json={"pin": "2468"})  # the right PIN, at another kiosk
    assert answer.json["ok"] is False and answer.json["locked_until"]
    assert _checks()[-1].operator == "kiosk:kiosk-2"


def test_wrong_pins_count_across_kiosks(api, central_app):
    patron("P1")
    _name, token = devices.enrol(devices.add("kiosk-2"))
    kiosk_2 = device_client(central_app, token)
    for client in (api, kiosk_2, api, kiosk_2):
        client.post(PATH, json={"pin": "0000"})
    assert kiosk_2.post(PATH, json={"pin": "0000"}).json["locked_until"]  # the fifth, whichever kiosk


def test_passwords_count_on_the_same_lock(api):
    from library_kiosk.central.store.models import User
    from library_kiosk.domain.hashing import hash_secret

    user = patron("P1")
    User.update(password_hash=hash_secret("Orchid-lantern-73")).where(User.id == user.id).execute()
    for _ in range(3):
        api.post(PATH, json={"password": "guess"})
    for _ in range(2):
        api.post(PATH, json={"pin": "0000"})
    assert api.post(PATH, json={"password": "Orchid-lantern-73"}).json["ok"] is False  # locked


def test_one_token_gets_429_beyond_its_checks_a_minute(api):
    for n in range(8):
        patron(f"P{n}", barcode=f"2000000000{n:04d}", card=f"04A1B2C3D4E5{n:02d}")
    answers = [api.post(f"/api/v1/patrons/P{i % 8}/verify-pin", json={"pin": "0000"}) for i in range(30)]
    assert all(a.status_code == 200 for a in answers)
    refused = api.post("/api/v1/patrons/P7/verify-pin", json={"pin": "2468"})
    assert refused.status_code == 429 and refused.json["error"]["code"] == "too_many_checks"
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert len(AuditEntry.select().where(AuditEntry.action == "kiosk.pin_check")) == 30  # the 31st was not checked
    unknown = api.post("/api/v1/patrons/nobody/verify-pin", json={"pin": "2468"})
    assert unknown.status_code == 429  # before anything is looked up: no primary ids to enumerate either
    _later(seconds=61)
    assert api.post("/api/v1/patrons/P7/verify-pin", json={"pin": "2468"}).json["ok"] is True


def test_checks_of_nobody_are_audited_and_counted(api):
    answer = api.post("/api/v1/patrons/nobody/verify-pin", json={"pin": "2468"})
    assert answer.status_code == 404
    entry = _checks("nobody")[0]
    assert entry.operator == "kiosk:kiosk-1" and "no such patron" in entry.detail


def test_the_limits_are_settings(central_app, api):
    central_app.config["KIOSK"]["central"].update(pin_max_attempts=2, pin_lockout_minutes=1)
    patron("P1")
    assert api.post(PATH, json={"pin": "0000"}).json["attempts_left"] == 1
    locked = api.post(PATH, json={"pin": "0000"}).json["locked_until"]
    until = dt.datetime.fromisoformat(locked.rstrip("Z"))
    assert until - clock.now() <= dt.timedelta(minutes=1)
    assert pin_checks.locked_until("P1") is not None


def test_the_openapi_document_describes_the_answer(api):
    post = api.get("/api/openapi.json").json["paths"]["/api/v1/patrons/{primary_id}/verify-pin"]["post"]
    answer = post["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    assert {"ok", "attempts_left", "locked_until"} <= set(answer)
    assert "429" in post["responses"] and "Retry-After" in post["responses"]["429"]["headers"]


def test_guesses_sent_at_once_get_no_more_than_five_checks(live_central, device_token):
    """Each attempt is counted before its PIN is checked: 20 guesses in parallel, 5 evaluated at most."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    patron("P1")

    def guess(n):
        return requests.post(live_central.url + PATH, json={"pin": f"{n:04d}"}, timeout=30,
                             headers={"Authorization": f"Bearer {device_token}"}).json()

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(guess, range(1000, 1020)))
    assert not any(a["ok"] for a in answers)
    evaluated = [e for e in _checks() if ": wrong," in e.detail]
    assert len(evaluated) <= 5 and len(_checks()) == 20
    assert pin_checks.locked_until("P1") is not None
    assert len(AuditEntry.select().where(AuditEntry.action == "kiosk.pin_lockout")) == 1  # one lock, said once
