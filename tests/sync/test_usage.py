"""Kiosk usage statistics through sync: the kiosk's daily counters reach the central store in the heartbeat,
for the device of the token, idempotently (cumulative values, the larger kept: a resend changes nothing);
a bad usage payload is refused with 400 and changes nothing."""
from __future__ import annotations

import datetime as dt

import pytest

from kiosk import sync, usage
from kiosk.cache import cache_db
from library_kiosk.central.store import devices
from library_kiosk.central.store.devices import Device
from library_kiosk.central.store.usage import KioskUsage
from tests.helpers import device_client
from tests.kiosk.helpers import make_patrons
from tests.store.factories import TODAY


def _central() -> dict:
    return {(r.device, r.day.isoformat(), r.counter): r.value for r in KioskUsage.select()}


def _cycle(app) -> dict:
    with app.app_context(), cache_db.connection_context():
        assert usage.flush()
        return sync.cycle(app.extensions["central"], app.extensions["patron_cache"])


@pytest.fixture
def kiosk(synced_kiosk, central_db):
    make_patrons()
    with cache_db.connection_context():
        sync.pull(synced_kiosk.extensions["central"], synced_kiosk.extensions["patron_cache"])
    return synced_kiosk.test_client()


def test_counters_reach_the_central_store_and_a_resend_changes_nothing(kiosk, synced_kiosk):
    kiosk.post("/identify", data={"identifier": "20000000000033"})  # no PIN: the account at once
    kiosk.post("/done")
    kiosk.post("/identify", data={"identifier": "999"})
    report = _cycle(synced_kiosk)
    assert report["error"] == ""
    day = TODAY.isoformat()
    expected = {("kiosk-1", day, "sessions_barcode"): 1, ("kiosk-1", day, "accounts_shown"): 1,
                ("kiosk-1", day, "ended_done"): 1, ("kiosk-1", day, "unknown_cards"): 1}
    assert _central() == expected
    with synced_kiosk.app_context(), cache_db.connection_context():
        assert usage.unsent() == {}  # acknowledged: not sent again
        # the answer was lost: the kiosk does not know the central store has them, and sends them again
        usage.UsageCount.update(sent=0).execute()
        assert usage.unsent() == {day: {"sessions_barcode": 1, "accounts_shown": 1, "ended_done": 1,
                                        "unknown_cards": 1}}
    stored = {(r.device, r.counter): r.updated for r in KioskUsage.select()}
    assert _cycle(synced_kiosk)["error"] == ""
    assert _central() == expected  # cumulative values, upserted: nothing added
    assert {(r.device, r.counter): r.updated for r in KioskUsage.select()} == stored
    assert KioskUsage.select().count() == 4

    kiosk.post("/identify", data={"identifier": "20000000000033"})  # one more session: the new total is sent
    with synced_kiosk.app_context(), cache_db.connection_context():
        usage.flush()
        assert usage.unsent() == {day: {"sessions_barcode": 2, "accounts_shown": 2}}
    _cycle(synced_kiosk)
    assert _central() == {**expected, ("kiosk-1", day, "sessions_barcode"): 2, ("kiosk-1", day, "accounts_shown"): 2}


def test_counts_made_offline_are_sent_on_reconnect(kiosk, synced_kiosk, live_central):
    live_central.stop()
    kiosk.post("/identify", data={"identifier": "20000000000033"})
    report = _cycle(synced_kiosk)
    assert report["error"]  # not reachable: nothing acknowledged
    kiosk.post("/done")
    kiosk.post("/identify", data={"identifier": "20000000000033"})  # served offline
    from tests.helpers import LiveServer

    server = LiveServer(live_central.server.app)  # the central store is back, on a new port
    try:
        synced_kiosk.extensions["central"].base_url = server.url
        assert _cycle(synced_kiosk)["error"] == ""
    finally:
        server.stop()
    day = TODAY.isoformat()
    assert _central() == {("kiosk-1", day, "sessions_barcode"): 2, ("kiosk-1", day, "accounts_shown"): 2,
                          ("kiosk-1", day, "ended_done"): 1, ("kiosk-1", day, "sessions_offline"): 1}


def test_the_device_comes_from_the_token_and_the_larger_value_is_kept(api, central_app, device_token):
    day = TODAY.isoformat()
    body = {"device": "kiosk-2", "name": "kiosk-2", "usage": {day: {"sessions_tap": 5, "language_fr": 2}}}
    answer = api.post("/api/v1/sync/heartbeat", json=body)
    assert answer.status_code == 200 and answer.json["usage"] == {"stored": 2}
    assert _central() == {("kiosk-1", day, "sessions_tap"): 5, ("kiosk-1", day, "language_fr"): 2}
    other = device_client(central_app, devices.enrol(devices.add("kiosk-2"))[1])
    assert other.post("/api/v1/sync/heartbeat", json={"usage": {day: {"sessions_tap": 1}}}).status_code == 200
    assert api.post("/api/v1/sync/heartbeat", json={"usage": {day: {"sessions_tap": 3}}}).status_code == 200  # late
    assert api.post("/api/v1/sync/heartbeat", json={"usage": {day: {"sessions_tap": 5}}}).status_code == 200  # again
    assert _central() == {("kiosk-1", day, "sessions_tap"): 5, ("kiosk-1", day, "language_fr"): 2,
                          ("kiosk-2", day, "sessions_tap"): 1}
    heartbeat = [d for d in api.get("/api/v1/sync/devices").json["devices"] if d["name"] == "kiosk-1"][0]["heartbeat"]
    assert "usage" not in heartbeat  # kept in its own table, not on the device row


BAD = [
    ("not an object", [1, 2]),
    ("a day that is not a date", {"yesterday": {"sessions_tap": 1}}),
    ("an impossible date", {"2026-02-30": {"sessions_tap": 1}}),
    # (a day ahead of the central store's is skipped, not refused: tests/kiosk/test_trusted_clock.py)
    ("a day before 2000", {"1999-12-31": {"sessions_tap": 1}}),
    ("a day without counters", {TODAY.isoformat(): {}}),
    ("counters not an object", {TODAY.isoformat(): [["sessions_tap", 1]]}),
    ("a negative count", {TODAY.isoformat(): {"sessions_tap": -1}}),
    ("a count that is not a whole number", {TODAY.isoformat(): {"sessions_tap": 1.5}}),
    ("a count that is text", {TODAY.isoformat(): {"sessions_tap": "1"}}),
    ("a count that is true", {TODAY.isoformat(): {"sessions_tap": True}}),
    ("a name that is not a counter", {TODAY.isoformat(): {"P1 Zoë": 1}}),
    ("a name too long", {TODAY.isoformat(): {"a" * 41: 1}}),
    ("too many days", {(TODAY - dt.timedelta(days=i)).isoformat(): {"sessions_tap": 1} for i in range(32)}),
    # one bad day spoils the whole body: the good day before it is not written either
    ("a good day and a bad one", {TODAY.isoformat(): {"sessions_tap": 4}, "2026-13-01": {"sessions_tap": 1}}),
]


@pytest.mark.parametrize("what, found", BAD, ids=[what for what, _ in BAD])
def test_a_bad_usage_payload_is_refused_and_changes_nothing(api, device_token, what, found):
    day = TODAY.isoformat()
    assert api.post("/api/v1/sync/heartbeat", json={"usage": {day: {"sessions_tap": 2}}}).status_code == 200
    before = Device.get(Device.name == "kiosk-1")
    refused = api.post("/api/v1/sync/heartbeat", json={"disk_free_mb": 1, "usage": found})
    assert refused.status_code == 400, what
    assert refused.json["error"]["code"] == "invalid_usage" and refused.json["error"]["message"]
    assert _central() == {("kiosk-1", day, "sessions_tap"): 2}
    after = Device.get(Device.name == "kiosk-1")
    assert (after.heartbeat, after.last_heartbeat) == (before.heartbeat, before.last_heartbeat)


def test_a_corrupt_heartbeat_is_refused(api, device_token):
    refused = api.post("/api/v1/sync/heartbeat", data='{"usage": {"2026-11-25": {"sessions_tap": 1',
                       headers={"Content-Type": "application/json"})
    assert refused.status_code == 400 and refused.json["error"]["code"] == "invalid_body"
    assert _central() == {}
