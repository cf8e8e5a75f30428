"""`kiosk doctor` on a central store: it says whether the station's patron search indexes are in place (without
them a search reads every record), on SQLite and on a real PostgreSQL server."""
from __future__ import annotations

import sqlite3

import pytest

from library_kiosk.appliance import doctor
from library_kiosk.central.store import schema
from tests.conftest import fresh_postgres_database


def test_a_sqlite_store_has_its_index_and_a_bare_file_has_not(tmp_path):
    store = tmp_path / "central.db"
    schema.init(f"sqlite:///{store}").close()
    bare = tmp_path / "bare.db"
    with sqlite3.connect(bare) as db:
        db.execute("CREATE TABLE user (id INTEGER PRIMARY KEY)")
    db.close()
    found = doctor.check_search_index(f"sqlite:///{store}"), doctor.check_search_index(f"sqlite:///{bare}")
    assert [(check.status, "patron_search_fts" in check.finding) for check in found] == [
        ("PASS", False), ("WARN", True)]


@pytest.fixture
def fresh_postgres():
    with fresh_postgres_database("kiosk_doctor") as url:
        yield url


def test_a_postgresql_store_without_the_trigram_indexes_is_told_how_to_make_them(fresh_postgres):
    before = doctor.check_search_index(fresh_postgres)
    schema.init(fresh_postgres).close()
    after = doctor.check_search_index(fresh_postgres)
    assert [(before.status, "CREATE EXTENSION pg_trgm" in before.fix), after.status] == [("WARN", True), "PASS"]
