"""`kiosk doctor` on a central store: it says whether the station's patron search indexes are in place (without
them a search reads every record), on SQLite and on a real PostgreSQL server."""
from __future__ import annotations

import sqlite3
import uuid

import psycopg2
import pytest

from library_kiosk.appliance import doctor
from library_kiosk.central.store import schema
from tests.conftest import PG_ADMIN_URL


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
    name = f"kiosk_doctor_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=5)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    with admin.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                       "AND pid <> pg_backend_pid()", (name,))
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.close()


def test_a_postgresql_store_without_the_trigram_indexes_is_told_how_to_make_them(fresh_postgres):
    before = doctor.check_search_index(fresh_postgres)
    schema.init(fresh_postgres).close()
    after = doctor.check_search_index(fresh_postgres)
    assert [(before.status, "CREATE EXTENSION pg_trgm" in before.fix), after.status] == [("WARN", True), "PASS"]
