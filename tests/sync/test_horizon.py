"""The safe horizon: a change whose seq commits late is never skipped by a reader (docs/sync.md)."""
from library_kiosk.central.store import changes, sync
from library_kiosk.central.store.db import database, is_postgres
from tests.helpers import BACKEND
from tests.store.factories import KEYER


def test_a_change_committing_late_is_not_skipped(central_db, central_url):
    changes.record("P1")
    first = sync.changes_after(KEYER, 0)
    assert [r["primary_id"] for r in first["records"]] == ["P1"]
    cursor = first["cursor"]
    if BACKEND == "postgres":
        import psycopg2

        assert is_postgres()
        other = psycopg2.connect(central_url)  # a second writer, in its own transaction
        try:
            with other.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (changes.SEQ_LOCK,))
                cur.execute("INSERT INTO change (primary_id, kind, created) VALUES ('P2', 'upsert', now())")
            changes.record("P3")  # a higher seq, committed first
            blocked = sync.changes_after(KEYER, cursor)
            assert blocked["records"] == [] and blocked["cursor"] == cursor  # nothing served past the in-flight seq
            other.commit()
        finally:
            other.close()  # (a failure must not leave the transaction open: the next test's schema would wait)
    else:
        with database.atomic():  # SQLite: one writer at a time, commit order is seq order
            changes.record("P2")
            changes.record("P3")
    rest = sync.changes_after(KEYER, cursor)
    assert [r["primary_id"] for r in rest["records"]] == ["P2", "P3"]
    assert rest["cursor"] == rest["horizon"] == changes.latest_seq()
