"""Kiosk usage statistics (kiosk/usage.py): daily counters from real route calls, nothing personal."""
from __future__ import annotations

import logging

import peewee as pw

from kiosk import usage
from kiosk.cache import cache_db
from kiosk.events import tap_token
from tests.store.factories import TODAY

HX = {"HX-Request": "true"}


def _counts(kiosk_app) -> dict:
    with kiosk_app.app_context(), cache_db.connection_context():
        return usage.counts(TODAY).get(TODAY.isoformat(), {})


def _login(kiosk, barcode="20000000000011", pin="2468"):
    kiosk.post("/identify", data={"identifier": barcode})
    return kiosk.post("/pin", data={"pin": pin})


def test_a_patrons_session_is_counted_from_the_routes(kiosk, kiosk_app, smtp_server, printer_file):
    kiosk.post("/language", data={"lang": "en"})  # chosen on screen before the tap
    kiosk.post("/identify", data={"tap": tap_token(kiosk_app, "04A1B2C3D4E5F6")})
    assert kiosk.post("/pin", data={"pin": "1111"}).status_code == 401
    assert "Middlemarch" in kiosk.post("/pin", data={"pin": "2468"}).get_data(as_text=True)
    kiosk.get("/account")  # shown again: still one account shown for the session
    kiosk.post("/renew", headers=HX)  # 5 loans: 2 renewed, 3 refused
    assert "Your receipt is printing." in kiosk.post("/receipt", data={"how": "print"}, headers=HX).get_data(
        as_text=True)
    assert "Sent to your email address." in kiosk.post("/receipt", data={"how": "email"}, headers=HX).get_data(
        as_text=True)
    assert "Sent to your email address." in kiosk.post("/requests-report", headers=HX).get_data(as_text=True)
    kiosk.post("/call-staff", data={"reason": "help"})
    kiosk.post("/done")
    kiosk.post("/done")  # nobody signed in any more: not a second ending
    assert _counts(kiosk_app) == {
        "language_en": 1, "sessions_tap": 1, "pins_wrong": 1, "accounts_shown": 1,
        "renewals_asked": 5, "renewals_granted": 2, "renewals_refused": 3,
        "receipts_printed": 1, "receipts_emailed": 1, "requests_reports_emailed": 1,
        "staff_calls": 1, "ended_done": 1}


def test_refusals_locks_timeouts_and_barcodes_are_counted(kiosk, kiosk_app):
    assert kiosk.post("/identify", data={"identifier": "999"}).status_code == 404
    assert "expired" in _login(kiosk, "20000000000022").get_data(as_text=True)  # an expired student: referred
    kiosk.post("/done", data={"ended": "timeout"})  # the page's idle timer
    _login(kiosk)
    with kiosk.session_transaction() as session:  # a page that stopped counting: the server ends it
        session["seen"] -= kiosk_app.config["KIOSK"]["kiosk"]["idle_timeout_seconds"] + 60
    assert kiosk.get("/account").status_code == 302
    kiosk.post("/identify", data={"identifier": "20000000000011"})
    for _ in range(5):
        last = kiosk.post("/pin", data={"pin": "1111"})
    assert last.status_code == 423
    assert kiosk.post("/identify", data={"identifier": "20000000000011"}).status_code == 423
    assert _counts(kiosk_app) == {
        "unknown_cards": 1, "sessions_barcode": 3, "accounts_shown": 2, "refused_expired": 1,
        "ended_timeout": 2, "pins_wrong": 5, "cards_locked": 1, "locked_card_refused": 1}


def test_a_session_served_offline_is_counted(kiosk, kiosk_app):
    with kiosk_app.app_context(), cache_db.connection_context():
        kiosk_app.extensions["patron_cache"].set_state(central_online="0")
    kiosk.post("/identify", data={"identifier": "20000000000033"})  # no PIN needed
    assert _counts(kiosk_app) == {"sessions_barcode": 1, "sessions_offline": 1, "accounts_shown": 1}


def test_nothing_personal_is_counted(kiosk, kiosk_app, smtp_server):
    _login(kiosk)
    kiosk.post("/renew", headers=HX)
    kiosk.post("/requests-report", headers=HX)
    kiosk.post("/done")
    columns = {field.column_name for field in usage.UsageCount._meta.sorted_fields}
    assert columns == {"day", "counter", "value", "sent"}
    with kiosk_app.app_context(), cache_db.connection_context():
        usage.flush()
        dump = repr(cache_db.execute_sql("SELECT * FROM usage_count").fetchall()) + repr(usage.unsent())
    assert "sessions_barcode" in dump
    for personal in ("P1", "20000000000011", "04A1B2C3D4E5F6", "Zoë", "Ólafsdóttir", "zoe@example.org",
                     "Middlemarch", "Les Misérables"):
        assert personal not in dump


def test_a_failure_to_count_is_logged_not_raised(kiosk, kiosk_app, caplog):
    with kiosk_app.app_context(), cache_db.connection_context():
        cache_db.execute_sql("DROP TABLE usage_count")
    with caplog.at_level(logging.ERROR, logger="kiosk.usage"):
        page = kiosk.post("/identify", data={"identifier": "20000000000033"})
        assert page.status_code == 200 and "Guest" in page.get_data(as_text=True)
        with kiosk_app.app_context():
            assert usage.flush()
    assert "usage counts not written" in caplog.text
    with kiosk_app.app_context():
        usage.count("not_a_counter")  # a wrong name: logged, never raised
    assert "not counted" in caplog.text


def test_counts_are_added_not_lost_under_concurrent_requests(kiosk_app, kiosk):
    import threading

    def many():
        with kiosk_app.app_context():
            for _ in range(50):
                usage.count("staff_calls")

    threads = [threading.Thread(target=many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _counts(kiosk_app) == {"staff_calls": 200}
    assert isinstance(usage.UsageCount._meta.primary_key, pw.CompositeKey)


def test_a_busy_cache_neither_slows_nor_loses_a_count(kiosk, kiosk_app, tmp_path):
    """The sync worker (another process) holds the cache's write lock: the screen does not wait for it, and the
    count goes with the next request."""
    import sqlite3
    import time

    other = sqlite3.connect(str(tmp_path / "kiosk-cache.db"), timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        page = kiosk.post("/identify", data={"identifier": "999"})
        assert page.status_code == 404 and time.monotonic() - started < 4  # did not wait out the 5 s busy timeout
        other.rollback()
    finally:
        other.close()
    kiosk.post("/identify", data={"identifier": "998"})
    assert _counts(kiosk_app) == {"unknown_cards": 2}


def test_unsent_days_go_oldest_first_within_the_heartbeats_size(kiosk_app):
    import datetime as dt

    with kiosk_app.app_context(), cache_db.connection_context():
        for back in range(10):
            usage.count("sessions_tap", back + 1, day=TODAY - dt.timedelta(days=back))
        found = usage.unsent()
        assert list(found) == [(TODAY - dt.timedelta(days=back)).isoformat() for back in range(9, 2, -1)]  # 7 days
        assert list(usage.unsent(max_bytes=70)) == [(TODAY - dt.timedelta(days=9)).isoformat(),
                                                    (TODAY - dt.timedelta(days=8)).isoformat()]
        usage.mark_sent(found, today=TODAY)
        assert list(usage.unsent()) == [(TODAY - dt.timedelta(days=back)).isoformat() for back in (2, 1, 0)]
