import os
import sqlite3
from contextlib import closing

from kiosk import sync
from kiosk.cache import PatronCache, cache_db
from library_kiosk.central.store.models import Identifier
from tests.store.factories import loan, patron


def test_sync_fills_the_cache_and_lookups_work(synced_kiosk):
    cache = synced_kiosk.extensions["patron_cache"]
    with cache_db.connection_context():
        assert cache.count() == 0  # nothing in central yet: the fixture synced an empty store


def test_pull_then_find_by_barcode_or_card(kiosk_app, central_db):
    patron("P1", barcode="20000000000011", card="04A1B2C3D4E5F6")
    cache: PatronCache = kiosk_app.extensions["patron_cache"]
    with cache_db.connection_context():
        assert sync.pull(kiosk_app.extensions["central"], cache) == 1
        assert cache.find("20000000000011").primary_id == "P1"
        assert cache.find("04a1b2c3d4e5f6").primary_id == "P1"  # card serial numbers ignore case
        assert cache.find("unknown") is None


def test_identifiers_are_not_stored_in_plain_text(kiosk_app, central_db, config):
    patron("P1", barcode="20000000000011", card="04A1B2C3D4E5F6")
    with cache_db.connection_context():
        sync.pull(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"])
    path = config["kiosk"]["cache_url"][len("sqlite:///"):]
    raw = b""
    for name in (path, path + "-wal"):
        if os.path.exists(name):
            with open(name, "rb") as handle:
                raw += handle.read()
    assert b"20000000000011" not in raw and b"04A1B2C3D4E5F6" not in raw
    with closing(sqlite3.connect(path)) as connection:
        keys = [row[0] for row in connection.execute("select key from cached_identifier")]
    assert len(keys) == 2 and all(len(k) == 64 for k in keys)


def test_deltas_update_and_deactivated_cards_stop_working(kiosk_app, central_db):
    user = patron("P1", barcode="B1", card="C1")
    cache = kiosk_app.extensions["patron_cache"]
    client = kiosk_app.extensions["central"]
    with cache_db.connection_context():
        sync.pull(client, cache)
        loan(user, "Middlemarch")
        Identifier.update(status="INACTIVE").where(Identifier.value == "C1").execute()
        from library_kiosk.central.store import changes
        changes.record("P1")
        assert sync.pull(client, cache) == 1
        assert [l.title for l in cache.find("B1").loans] == ["Middlemarch"]
        assert cache.find("C1") is None


def test_pull_in_pages_resumes_from_the_cursor(kiosk_app, central_db):
    for i in range(7):
        patron(f"P{i}", barcode=f"B{i}", card=f"C{i}")
    cache = kiosk_app.extensions["patron_cache"]
    seen = []
    with cache_db.connection_context():
        sync.pull(kiosk_app.extensions["central"], cache, page_size=3, progress=lambda n, c: seen.append(n))
        assert seen == [3, 6, 7]
        assert cache.count() == 7 and cache.cursor() == 7


def test_records_applied_by_many_threads_at_once_wait_for_each_other_never_fail(kiosk_app, central_db):
    """The soak's 50 patrons at once (issue 21, finding 2 at the web app): each tap applies the patron's fresh
    record to the cache; a read-then-write transaction that did not take the write lock first failed at once with
    "database is locked" whenever another thread committed in between (7% of the soak's taps answered 500)."""
    import threading

    for number in range(8):
        patron(f"P{number}", barcode=f"3100000000{number:04d}", card=f"04DD00000000{number:02d}")
    cache: PatronCache = kiosk_app.extensions["patron_cache"]
    with cache_db.connection_context():
        records = kiosk_app.extensions["central"].changes(0)["records"]
    assert len(records) == 8
    failures, start = [], threading.Barrier(8)

    def tap_after_tap(record):
        with cache_db.connection_context():  # each thread its own connection, as the web app's threads
            start.wait()
            for round_ in range(40):
                try:
                    cache.apply_records([{**record, "seq": record["seq"] + round_}])
                except Exception as exc:
                    failures.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=tap_after_tap, args=(record,)) for record in records]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
