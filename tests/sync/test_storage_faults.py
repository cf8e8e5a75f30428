"""Storage faults of the kiosk cache reported (issue 21, finding 2): a full or read-only cache is seen in
``kiosk sync status``, ``kiosk doctor``, the heartbeat and the station's fleet page, and cleared when it is over.

Real SQLite error paths on the sync worker's own connection: ``PRAGMA max_page_count`` makes the next write that
needs a page fail with SQLITE_FULL ("database or disk is full"), ``PRAGMA query_only`` with SQLITE_READONLY. A
missing and a damaged cache file are real files (or their absence).
"""
import pytest

from kiosk import heartbeat, sync
from kiosk.cache_db import cache_db
from library_kiosk.appliance import doctor
from library_kiosk.central.store import devices
from tests.provisioning.helpers import StaffClient
from tests.store.factories import loan, patron


@pytest.fixture(autouse=True)
def _no_fault_left():
    heartbeat._STORAGE.clear()
    yield
    heartbeat._STORAGE.clear()


@pytest.fixture
def synced(synced_kiosk, central_db):
    for n in range(30):  # new at the central store since the last pull: the next cycle must write them
        loan(patron(f"N{n}", barcode=f"2100000000{n:04d}", card=f"05{n:012d}"), f"Book {n}")
    return synced_kiosk


def _cycle(app):
    return sync.cycle(app.extensions["central"], app.extensions["patron_cache"])


def _full():
    pages = cache_db.execute_sql("PRAGMA page_count").fetchone()[0]
    cache_db.execute_sql(f"PRAGMA max_page_count = {pages}")  # no room for one more page: the disk is full


def _heartbeat_storage(name="kiosk-1") -> dict:
    import json

    return json.loads(devices.Device.get(devices.Device.name == name).heartbeat or "{}").get("storage") or {}


def test_a_full_cache_is_reported_in_status_heartbeat_and_doctor_then_cleared(synced, config):
    with synced.app_context(), cache_db.connection_context():
        _full()
        report = _cycle(synced)
        assert report["storage"] == "full" and "disk holding the kiosk cache is full" in report["error"]
        status = sync.status(synced.extensions["patron_cache"])["storage"]
        assert status["ok"] is False and status["problem"] == "full"
    assert _heartbeat_storage()["problem"] == "full"  # told to the central store at once
    check = doctor.check_cache_storage(config)
    assert check.status == "FAIL" and "full" in check.finding and "patrons are sent to the desk" in check.finding
    with synced.app_context(), cache_db.connection_context():
        cache_db.execute_sql("PRAGMA max_page_count = 1073741823")  # space freed
        assert _cycle(synced)["error"] == ""
        assert sync.status(synced.extensions["patron_cache"])["storage"]["ok"] is True
    assert _heartbeat_storage()["ok"] is True
    assert doctor.check_cache_storage(config).status == "PASS"


def test_a_read_only_cache_is_reported_as_read_only(synced):
    with synced.app_context(), cache_db.connection_context():
        cache_db.execute_sql("PRAGMA query_only = 1")
        try:
            assert _cycle(synced)["storage"] == "read-only"
        finally:
            cache_db.execute_sql("PRAGMA query_only = 0")
        assert sync.status(synced.extensions["patron_cache"])["storage"]["problem"] == "read-only"
    assert _heartbeat_storage()["problem"] == "read-only"


def test_the_fleet_page_shows_a_kiosk_s_storage_fault(synced, station):
    with synced.app_context(), cache_db.connection_context():
        _full()
        _cycle(synced)
    page = StaffClient(station, "admin").get("/fleet").get_data(as_text=True)
    assert 'data-testid="storage-fault">storage: full</span>' in page


def test_doctor_fails_plainly_for_a_missing_cache_file(config, tmp_path):
    config["kiosk"]["cache_url"] = f"sqlite:///{tmp_path / 'gone.db'}"
    check = doctor.check_cache_storage(config)
    assert check.status == "FAIL" and "missing" in check.finding and "kiosk sync once" in check.fix


def test_doctor_fails_plainly_for_a_damaged_cache_file(config, tmp_path):
    damaged = tmp_path / "cache.db"
    damaged.write_bytes(b"this is not an SQLite database, it was overwritten" * 100)
    config["kiosk"]["cache_url"] = f"sqlite:///{damaged}"
    check = doctor.check_cache_storage(config)
    assert check.status == "FAIL" and "damaged" in check.finding


def test_kiosk_sync_status_names_a_damaged_cache_in_json(config, tmp_path, monkeypatch, capsys):
    import json

    from kiosk import cli
    from library_kiosk import settings

    damaged = tmp_path / "cache.db"
    damaged.write_bytes(b"this is not an SQLite database, it was overwritten" * 100)
    config["kiosk"]["cache_url"] = f"sqlite:///{damaged}"
    monkeypatch.setattr(settings, "load", lambda *a, **k: config)

    class Args:
        mode = "status"

    assert cli.cmd_sync(Args()) == 1
    shown = json.loads(capsys.readouterr().out)
    assert shown["storage"]["ok"] is False and shown["storage"]["problem"] == "corrupt"


def test_a_disk_io_error_on_a_full_disk_is_reported_as_full(tmp_path, monkeypatch):
    """SQLite says "disk I/O error" when a full disk refuses its shared-memory file (seen filling /var in the VM):
    where the disk has no room, that is a full disk, not a damaged cache."""
    import os
    import sqlite3

    from kiosk import heartbeat

    url = f"sqlite:///{tmp_path / 'cache.db'}"
    error = sqlite3.OperationalError("disk I/O error")
    assert heartbeat.note_storage(error, url, remember=False) == "corrupt"
    found = os.statvfs(tmp_path)
    monkeypatch.setattr(heartbeat, "MIN_FREE_BYTES", found.f_bavail * found.f_frsize + 2**30)
    assert heartbeat.note_storage(error, url, remember=False) == "full"
