"""A kiosk whose own clock is wrong (issue 21): it learns the central store's time at each exchange and decides
by it (kiosk/trusted_clock.py; docs/sync.md "Trusted time").

Both the central store and the kiosk run in this test process, on the one product clock. The kiosk's clock is
made fast by moving that clock on (``pass_time``); the central store's answers carry the true time through its
app's ``now`` and ``today`` hooks, which take the kiosk's error back off.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest

from kiosk import lockout, outbox, services, sync, trusted_clock, usage
from kiosk.cache_db import SyncState, cache_db
from kiosk.central_client import CentralUnavailable
from library_kiosk.central.store.devices import Device
from library_kiosk.central.store.usage import KioskUsage
from library_kiosk.domain import clock
from library_kiosk.domain.renewal import decide
from tests.conftest import TODAY
from tests.helpers import LiveServer, pass_time
from tests.kiosk.helpers import identify, pin_refused_offline
from tests.store.factories import loan, patron

FAST = dt.timedelta(days=40)  # what was found: a kiosk 40 days fast


class Skew:
    """How far the kiosk's clock is ahead of the true time (the central store's)."""
    by = dt.timedelta(0)

    def true_now(self) -> dt.datetime:
        return clock.now() - self.by

    def true_today(self) -> dt.date:
        return trusted_clock.local_day(self.true_now())

    def kiosk_fast(self, by: dt.timedelta = FAST) -> None:
        self.by += by
        pass_time(seconds=by.total_seconds())

    def kiosk_corrected(self) -> None:
        pass_time(seconds=-self.by.total_seconds())
        self.by = dt.timedelta(0)


@pytest.fixture
def skew():
    return Skew()


@pytest.fixture
def true_central(central_db, config, skew):
    """The central store, on the true time whatever the kiosk's clock says."""
    from library_kiosk.central import api as central

    server = LiveServer(central.create_app(config, today=skew.true_today, now=skew.true_now))
    yield server
    server.stop()


@pytest.fixture
def kiosk_app(config, true_central, device_token):
    """The kiosk on its own clock: its day is the trusted clock's (the app's default), not pinned."""
    import kiosk
    from kiosk.devices import credential_path, save_credential

    config["kiosk"]["central_url"] = true_central.url
    config["kiosk"]["offline_renewals"] = "local"
    save_credential(credential_path(config), {"device": "kiosk-1", "token": device_token,
                                              "central_url": true_central.url})
    return kiosk.create_app(config)


@pytest.fixture
def patrons(central_db):
    """P1: a loan due in 3 days, membership for 200 days. P2: membership ending in 20 days."""
    p1 = patron("P1")
    due_soon = loan(p1, "Middlemarch", due=TODAY + dt.timedelta(days=3), barcode="3000000000001")
    patron("P2", barcode="20000000000022", card="04A1B2C3D4E5F7", expiry=TODAY + dt.timedelta(days=20))
    return due_soon


def _cycle(app) -> dict:
    with cache_db.connection_context():
        return sync.cycle(app.extensions["central"], app.extensions["patron_cache"])


def _go_offline(app) -> None:
    app.extensions["central"].base_url = "http://127.0.0.1:9"  # nothing listens there
    with app.app_context(), cache_db.connection_context():
        sync.note_online(app.extensions["patron_cache"], False, "test: offline")


# --- the fault: a kiosk 40 days fast -------------------------------------------------------------------

def test_a_fast_kiosk_learns_the_true_day(kiosk_app, patrons, skew):
    skew.kiosk_fast()
    assert _cycle(kiosk_app)["error"] == ""
    with kiosk_app.test_request_context(), cache_db.connection_context():
        assert (kiosk_app.config["TODAY"](), abs(trusted_clock.now() - skew.true_now()) < dt.timedelta(seconds=5),
                trusted_clock.trusted()) == (TODAY, True, True)


def test_a_fast_kiosk_shows_a_patron_neither_expired_nor_blocked_nor_overdue(kiosk_app, patrons, skew):
    from kiosk.screens import account_screen

    skew.kiosk_fast()
    _cycle(kiosk_app)
    with kiosk_app.test_request_context(), cache_db.connection_context():
        today = kiosk_app.config["TODAY"]()
        p1, p2 = services.get_patron("P1"), services.get_patron("P2")
        screens = [account_screen(p, today, 30) for p in (p1, p2)]
        assert ([s.blocks for s in screens], [row.overdue for row in screens[0].loans], screens[1].expiry_days) \
            == ([[], []], [False], 20)


def test_a_fast_kiosk_gives_an_offline_renewal_the_due_date_of_the_true_day(kiosk_app, patrons, skew):
    skew.kiosk_fast()
    _cycle(kiosk_app)
    _go_offline(kiosk_app)
    with kiosk_app.test_request_context(), cache_db.connection_context():
        account, visit = identify("20000000000011")
        expected = decide(account, account.loan(patrons.id), TODAY).new_due_date
        outcome = services.renew(account, [patrons.id], visit)[0]
        assert (outcome.renewed, outcome.pending, outcome.new_due_date) == (True, True, expected)


def test_an_operation_queued_by_a_fast_kiosk_carries_the_true_time(kiosk_app, patrons, skew):
    skew.kiosk_fast()
    _cycle(kiosk_app)
    _go_offline(kiosk_app)
    with kiosk_app.test_request_context(), cache_db.connection_context():
        item = outbox.enqueue("call_staff", {"reason": "help"})
        assert abs(item.created - skew.true_now()) < dt.timedelta(seconds=5)


def _locked_under_a_fast_clock(kiosk_app, skew) -> None:
    """The true time learnt; then the clock jumps 40 days ahead while the kiosk is offline, P1 is locked by five
    wrong PINs, and the clock is put right."""
    _cycle(kiosk_app)
    wrong_pin = pin_refused_offline(kiosk_app)
    _go_offline(kiosk_app)
    skew.kiosk_fast()
    with kiosk_app.test_request_context(), cache_db.connection_context():
        account = services.get_patron("P1")
        for _ in range(5):
            services.check_pin(account, wrong_pin)
    skew.kiosk_corrected()


def test_a_lock_made_under_a_fast_clock_is_not_weeks_long_once_the_clock_is_corrected(kiosk_app, patrons, skew):
    _locked_under_a_fast_clock(kiosk_app, skew)
    with kiosk_app.test_request_context(), cache_db.connection_context():
        until = services.pin_locked_until("P1")
        assert dt.timedelta(minutes=14) < until - trusted_clock.now() <= dt.timedelta(minutes=15)


def test_a_lock_cut_back_ends_after_the_lockout(kiosk_app, patrons, skew):
    _locked_under_a_fast_clock(kiosk_app, skew)
    with kiosk_app.test_request_context(), cache_db.connection_context():
        services.pin_locked_until("P1")  # cut back to 15 minutes from now
    pass_time(minutes=16)
    with kiosk_app.test_request_context(), cache_db.connection_context():
        assert services.pin_locked_until("P1") is None


def test_the_locked_message_says_minutes_not_weeks(kiosk_app, patrons, skew):
    _cycle(kiosk_app)
    _go_offline(kiosk_app)
    skew.kiosk_fast()
    with kiosk_app.test_request_context(), cache_db.connection_context():
        lockout.failure("P1", 1, 15)  # locked under the fast clock: 40 days and 15 minutes from the true time
    skew.kiosk_corrected()
    html = kiosk_app.test_client().post("/identify", data={"identifier": "20000000000011"}).get_data(as_text=True)
    assert "Try again in 15 minutes" in html


def test_usage_counted_under_a_fast_clock_goes_with_an_accepted_heartbeat(kiosk_app, patrons, skew):
    skew.kiosk_fast()  # counted before the kiosk learnt the time: dated 40 days ahead
    with kiosk_app.app_context(), cache_db.connection_context():
        usage.count("sessions_tap", 3)
        assert list(usage.counts()) == [(TODAY + FAST).isoformat()]
    report = _cycle(kiosk_app)
    device = Device.get(Device.name == "kiosk-1")
    stored = {(row.day, row.counter): row.value for row in KioskUsage.select()}
    assert (report["error"], device.last_heartbeat is not None, stored) == ("", True, {(TODAY, "sessions_tap"): 3})


def test_usage_redated_is_not_sent_twice(kiosk_app, patrons, skew):
    skew.kiosk_fast()
    with kiosk_app.app_context(), cache_db.connection_context():
        usage.count("sessions_tap", 3)
    _cycle(kiosk_app)
    _cycle(kiosk_app)
    with kiosk_app.app_context(), cache_db.connection_context():
        assert usage.unsent() == {}


# --- no trusted time beyond [kiosk] trusted_time_hours ------------------------------------------------

def test_with_no_trusted_time_beyond_the_setting_an_offline_renewal_is_refused(kiosk_app, patrons):
    _cycle(kiosk_app)
    _go_offline(kiosk_app)
    pass_time(hours=25)  # [kiosk] trusted_time_hours = 24 without hearing from the central store
    with kiosk_app.test_request_context(), cache_db.connection_context():
        account, visit = identify("20000000000011")
        with pytest.raises(CentralUnavailable) as refused:
            services.renew(account, [patrons.id], visit)
        assert (str(refused.value), outbox.length()) == (trusted_clock.UNTRUSTED, 0)


def test_the_patron_sees_the_plain_refusal(kiosk_app, patrons):
    _cycle(kiosk_app)
    _go_offline(kiosk_app)
    pass_time(hours=25)
    client = kiosk_app.test_client()
    client.post("/identify", data={"identifier": "20000000000011"})
    client.post("/pin", data={"pin": "2468"})
    response = client.post("/renew", headers={"HX-Request": "true"})
    assert response.status_code == 503 and "Renewals are not available just now" in response.get_data(as_text=True)


def test_within_the_setting_an_offline_renewal_is_decided_here(kiosk_app, patrons):
    _cycle(kiosk_app)
    _go_offline(kiosk_app)
    pass_time(hours=23)
    with kiosk_app.test_request_context(), cache_db.connection_context():
        account, visit = identify("20000000000011")
        assert services.renew(account, [patrons.id], visit)[0].pending


def test_staff_are_told_when_the_time_is_not_trusted(kiosk_app, patrons):
    _cycle(kiosk_app)
    _go_offline(kiosk_app)
    pass_time(hours=25)
    status = kiosk_app.test_client().get("/sync/status").json
    assert (status["clock"]["trusted"], status["clock"]["problem"]) == (False, "not learnt within trusted_time_hours")


def test_the_heartbeat_tells_staff_the_kiosks_clock(kiosk_app, patrons, skew):
    skew.kiosk_fast()
    _cycle(kiosk_app)
    _cycle(kiosk_app)  # the second heartbeat reports the offset the first cycle learnt
    found = json.loads(Device.get(Device.name == "kiosk-1").heartbeat)
    assert (found["clock"]["trusted"], round(found["clock"]["offset_seconds"] / 86400)) == (True, -40)


def test_a_kiosk_that_never_learnt_the_time_decides_nothing_by_date_offline(kiosk_app, patrons):
    with cache_db.connection_context():
        sync.pull(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"])
        SyncState.delete().where(SyncState.name.in_(trusted_clock.KEYS)).execute()
    _go_offline(kiosk_app)
    with kiosk_app.test_request_context(), cache_db.connection_context():
        account, visit = identify("20000000000011")
        with pytest.raises(CentralUnavailable):
            services.renew(account, [patrons.id], visit)


def test_a_clock_set_back_since_the_time_was_learnt_voids_the_offset(kiosk_app, patrons, skew):
    skew.kiosk_fast()
    _cycle(kiosk_app)  # offset -40 days learnt; then the box's clock is corrected while offline
    _go_offline(kiosk_app)
    skew.kiosk_corrected()
    with kiosk_app.app_context(), cache_db.connection_context():
        found = trusted_clock.reading()
        assert (found.offset, found.trusted(), trusted_clock.today()) == (dt.timedelta(0), False, TODAY)


# --- the module's parts ------------------------------------------------------------------------------

T0 = dt.datetime(2026, 11, 25, 12, 0)


def test_a_sample_is_read_at_the_midpoint_of_the_round_trip():
    sample = trusted_clock.Sample(central=T0 - FAST + dt.timedelta(seconds=1), sent=T0, received=T0 +
                                  dt.timedelta(seconds=2))
    assert sample.offset == -FAST


def test_a_difference_within_the_round_trip_is_no_difference():
    sample = trusted_clock.Sample(central=T0 + dt.timedelta(seconds=3), sent=T0, received=T0 + dt.timedelta(seconds=8))
    assert sample.offset == dt.timedelta(0)


def test_a_slow_round_trip_is_not_used():
    sample = trusted_clock.Sample(central=T0, sent=T0, received=T0 + dt.timedelta(seconds=30))
    assert trusted_clock.learn(sample) is False


@pytest.mark.parametrize("text, expected", [
    ("2026-11-25T12:00:00.250Z", dt.datetime(2026, 11, 25, 12, 0, 0, 250000)),
    ("2026-11-25T13:00:00+01:00", dt.datetime(2026, 11, 25, 12, 0)),
    ("yesterday", None), ("", None), (None, None),
])
def test_the_header_is_read_as_naive_utc(text, expected):
    assert trusted_clock.parse_header(text) == expected


def test_every_central_answer_carries_its_time(api, central_app):
    central_app.config["NOW"] = lambda: T0
    assert api.get("/health").headers[trusted_clock.HEADER] == "2026-11-25T12:00:00.000Z"


def test_the_central_store_skips_usage_days_ahead_and_keeps_the_heartbeat(api, device_token):
    ahead = (TODAY + FAST).isoformat()
    answer = api.post("/api/v1/sync/heartbeat", json={"usage": {ahead: {"sessions_tap": 1},
                                                                 TODAY.isoformat(): {"sessions_tap": 2}}})
    assert (answer.status_code, answer.json["usage"]) == (200, {"stored": 1, "skipped": [ahead]})


def test_usage_ahead_is_moved_to_today_less_what_was_acknowledged(kiosk_app):
    ahead = TODAY + dt.timedelta(days=3)
    with kiosk_app.app_context(), cache_db.connection_context():
        usage.count("sessions_tap", 5, day=ahead)
        usage.mark_sent({ahead.isoformat(): {"sessions_tap": 2}}, TODAY)
        usage.count("sessions_tap", 1, day=TODAY)
        usage.redate_future(TODAY)
        assert usage.counts() == {TODAY.isoformat(): {"sessions_tap": 4}, ahead.isoformat(): {"sessions_tap": 2}}


def test_kiosk_doctor_says_when_the_time_is_not_trusted(kiosk_app, config, patrons):
    from library_kiosk.appliance import doctor

    _cycle(kiosk_app)
    before = doctor.check_trusted_time(config).status
    pass_time(hours=25)
    after = doctor.check_trusted_time(config)
    assert (before, after.status, "offline renewals are refused" in after.finding) == ("PASS", "FAIL", True)


def test_the_fleet_page_shows_a_kiosk_clock_that_is_off_or_untrusted():
    from provisioning import fleet

    fast = fleet._errors({"clock": {"trusted": True, "offset_seconds": -FAST.total_seconds()}})
    untrusted = fleet._errors({"clock": {"trusted": False, "offset_seconds": 0, "problem": "never learnt"}})
    assert (fast, untrusted) == (
        ["clock: 40.0 days ahead of the central store's (corrected here; check its time sync)"],
        ["clock: no trusted time (never learnt): offline renewals refused"])
