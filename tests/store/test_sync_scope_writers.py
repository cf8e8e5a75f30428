"""A patron's visit noted (store/sync_scope.note_active, at every tap's read through) while another process writes
the central store's SQLite file: it waits its turn (busy timeout) instead of failing with "database is locked"
(found by the fault checker, tests/faults/: the tap was answered 500)."""
import sqlite3

from library_kiosk.central.store import schema, sync_scope
from tests.store.factories import patron


def test_a_visit_noted_while_another_process_writes_waits_instead_of_failing(tmp_path, monkeypatch):
    path = tmp_path / "central.db"
    db = schema.init(f"sqlite:///{path}")
    db.connect(reuse_if_open=True)
    patron("P1")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)  # another process on the same file
    table = sync_scope.PatronActivity._meta.table_name
    insert_many = sync_scope.PatronActivity.insert_many

    def another_write_first(*args, **kwargs):  # between the visit's read and its write, the other process writes
        try:
            other.execute(f"INSERT INTO {table} (primary_id, last_active) VALUES ('OTHER', '2026-01-01 00:00:00')")
        except sqlite3.OperationalError:  # the visit holds the write lock: the other process waits for it
            pass
        return insert_many(*args, **kwargs)

    monkeypatch.setattr(sync_scope.PatronActivity, "insert_many", another_write_first)
    try:
        assert sync_scope.note_active(sync_scope.Scope(30), ["P1"]) == ["P1"]
    finally:
        other.close()
        db.close()
