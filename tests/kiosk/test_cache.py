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
