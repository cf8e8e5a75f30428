"""The station search's trigram indexes (central/store/patron_search.py) on the real store, SQLite or PostgreSQL
(``KIOSK_TEST_DB``): the queries use them (the database's own plan says so), and they stay in step with every
write (a patron created, renamed, merged or purged, an email address or a phone number changed, is found or gone
at once). Short words (fewer than 3 characters) match the start of a name word."""
import datetime as dt

import pytest

from library_kiosk.central.store import patron_search, records, schema
from library_kiosk.central.store.db import is_postgres
from library_kiosk.central.store.jobs.merge import merge_users
from library_kiosk.central.store.jobs.purge import purge_users
from library_kiosk.central.store.models import Email, Phone, User
from tests.helpers import TODAY
from tests.store import factories


def found(query: str) -> list[str]:
    return sorted(u.primary_id for u in patron_search.search(query).rows)


def plan(query: str) -> str:
    """The database's plan for the rows a search of ``query`` matches. On PostgreSQL with sequential and plain
    index scans disabled: a table of a few rows is cheaper to read whole (or along its primary key), and the
    question is whether the trigram index can serve the query's condition at all (the planner picks it by itself at
    a million rows: docs/station-search.md)."""
    db = User._meta.database
    sql, params = User.select(User.id).where(patron_search.matching(query)).sql()
    if is_postgres():
        with db.atomic():
            db.execute_sql("SET LOCAL enable_seqscan = off")
            db.execute_sql("SET LOCAL enable_indexscan = off")
            return "\n".join(row[0] for row in db.execute_sql("EXPLAIN " + sql, params).fetchall())
    return "\n".join(row[-1] for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall())


def index_name(postgres: str, sqlite: str) -> str:
    return postgres if is_postgres() else sqlite


@pytest.fixture
def some(central_db):
    for i, (first, last) in enumerate([("Inès", "Wójcik"), ("Ann", "Nowak"), ("Bob", "Smith")]):
        factories.patron(f"P{i}", barcode=f"2000000000001{i}", card=None, pin=None, first_name=first, last_name=last)
    patron_search.fill_missing()


def test_a_name_search_reads_the_trigram_index(some):
    assert index_name("user_search_name_trgm", "patron_search_fts") in plan("wojcik")


def test_an_email_search_reads_the_trigram_index(some):
    assert index_name("user_search_emails_trgm", "patron_search_fts") in plan("example.org")


def test_a_phone_search_reads_the_trigram_index(some):
    assert index_name("user_search_phones_trgm", "patron_search_fts") in plan("79460958")


def test_a_two_letter_search_reads_an_index(some):
    assert index_name("user_search_name_trgm", "patron_search_fts") in plan("wo")


def test_a_name_search_reads_no_table_whole(some):
    assert ("Seq Scan" if is_postgres() else "SCAN t") not in plan("wojcik ines")


def test_a_patron_created_is_found_at_once(some):
    factories.patron("NEW", barcode=None, card=None, pin=None, first_name="Łukasz", last_name="Kowalczyk")
    assert found("owalcz") == ["NEW"]


def test_a_patron_renamed_at_the_station_is_found_by_the_new_name_only(some):
    form = {"first_name": "Zoë", "last_name": "Ólafsdóttir", "user_group": "25",
            "expiry_date": (TODAY + dt.timedelta(days=300)).isoformat(), "status": "ACTIVE"}
    records.update_general(User.get(User.primary_id == "P1"), form, "ops", today=TODAY)
    assert (found("olafs"), found("nowak")) == (["P1"], [])


def test_a_merged_duplicate_is_gone_at_once(some):
    factories.patron("DUP", barcode=None, card=None, pin=None, first_name="Ann", last_name="Nowakowska")
    assert found("nowak") == ["DUP", "P1"]  # both in the index before the merge
    assert merge_users(duplicate="DUP", keep="P1", operator="ops").ok
    assert found("nowak") == ["P1"]


def test_a_purged_patron_is_gone_at_once_with_its_email_and_phone(some):
    gone = factories.patron("OLD", barcode=None, card=None, pin=None, first_name="Ann", last_name="Quennell",
                            purge_date=TODAY - dt.timedelta(days=30))
    Email.create(user=gone, email_address="quennell@example.org")
    Phone.create(user=gone, phone_number="+44 20 7946 0958")
    assert found("quennell") == ["OLD"]
    assert purge_users(operator="ops", today=TODAY).ok
    assert (found("quennell"), found("quennell@example"), found("79460958")) == ([], [], [])


def test_an_email_address_changed_is_found_by_its_new_spelling_only(some):
    email = Email.create(user=User.get(User.primary_id == "P2"), email_address="bob@example.org")
    Email.update(email_address="robert.smith@example.net").where(Email.id == email.id).execute()
    assert (found("robert.smith"), found("bob@example")) == (["P2"], [])


def test_a_phone_number_changed_is_found_by_its_new_digits_only(some):
    phone = Phone.create(user=User.get(User.primary_id == "P0"), phone_number="020 7946 0958")
    Phone.update(phone_number="+33 1 42 68 53 00").where(Phone.id == phone.id).execute()
    assert (found("142685300"), found("79460958")) == (["P0"], [])


@pytest.fixture
def sqlite_store(tmp_path):
    """A SQLite store whatever ``KIOSK_TEST_DB`` says: its FTS tables are SQLite's own (PostgreSQL keeps an index
    in step by itself)."""
    db = schema.init(f"sqlite:///{tmp_path}/central.db")
    db.connect(reuse_if_open=True)
    yield db
    db.close()


def test_the_sqlite_index_holds_each_patrons_names_emails_and_phones_after_every_kind_of_write(sqlite_store):
    """Each FTS row against what the tables hold (the oracle computed here in Python), after inserts, a rename,
    email and phone changes, a phone moved to another patron and deletions; and SQLite's own check of the index."""
    ann = factories.patron("P1", barcode=None, card=None, pin=None, first_name="Ann", last_name="Nowak")
    bob = factories.patron("P2", barcode=None, card=None, pin=None, first_name="Bob", last_name="Smith")
    eve = factories.patron("P3", barcode=None, card=None, pin=None, first_name="Eve", last_name="Jones")
    patron_search.fill_missing()
    Email.create(user=ann, email_address="Ann@Example.org")
    Email.create(user=ann, email_address="ann.nowak@example.net")
    phone = Phone.create(user=ann, phone_number="020 7946 0958")
    Phone.create(user=bob, phone_number="+33 1 42 68 53 00")
    records.update_general(ann, {"first_name": "Anna", "last_name": "Nowak-Kowalska", "user_group": "25",
                                 "expiry_date": (TODAY + dt.timedelta(days=300)).isoformat(),
                                 "status": "ACTIVE"}, "ops", today=TODAY)
    Phone.update(phone_number="020 7946 0000", user=eve).where(Phone.id == phone.id).execute()
    Email.delete().where(Email.email_address == "Ann@Example.org").execute()
    User.delete().where(User.primary_id == "P2").execute()
    sqlite_store.execute_sql("INSERT INTO patron_search_fts(patron_search_fts) VALUES ('integrity-check')")
    expected = []
    for user in User.select().order_by(User.id):
        emails = [e.email_address for e in Email.select().where(Email.user == user).order_by(Email.id)]
        phones = ["".join(ch for ch in p.phone_number if ch.isdigit())
                  for p in Phone.select().where(Phone.user == user).order_by(Phone.id)]
        expected.append((user.id, user.search_name, "\n".join(emails) or None, "\n".join(phones) or None))
    held = sqlite_store.execute_sql("SELECT rowid, name, emails, phones FROM patron_search_fts ORDER BY rowid")
    assert [tuple(row) for row in held.fetchall()] == expected


def test_two_letters_find_a_name_word_that_starts_with_them(central_db):
    factories.patron("P1", barcode=None, card=None, pin=None, first_name="Jean-Paul", last_name="Ng")
    factories.patron("P2", barcode=None, card=None, pin=None, first_name="Ann", last_name="Wang")
    assert (found("ng"), found("pa"), found("an")) == (["P1"], ["P1"], ["P2"])


def test_one_letter_finds_the_surnames_that_start_with_it(central_db):
    factories.patron("P1", barcode=None, card=None, pin=None, first_name="Ann", last_name="王")
    factories.patron("P2", barcode=None, card=None, pin=None, first_name="王", last_name="Li")
    assert found("王") == ["P1"]


def test_short_and_long_words_together_match_anywhere(central_db):
    factories.patron("P1", barcode=None, card=None, pin=None, first_name="Ann", last_name="Kowalski")
    assert found("owals nn") == ["P1"]


@pytest.mark.parametrize("query", ["mar", "m", "ma", "nowak", "20000000000099", "example.org"])
def test_many_matches_are_listed_in_the_same_order_as_few(sqlite_store, monkeypatch, query):
    """SQLite lists more than ``SORT_LIMIT`` matches by walking the key's index tier by tier: every page holds what
    sorting all the matches gives (the exact record, the surnames that start with the first word, the rest)."""
    names = ["Martin", "Delamare", "Marek", "Nowak", "Mazur", "Amari", "Ma", "Omar"]
    for i in range(40):
        user = factories.patron(f"P{i:02d}", barcode=f"200000000000{i + 60:02d}", card=None, pin=None,
                                first_name=names[(i * 3) % len(names)], last_name=names[i % len(names)])
        Email.create(user=user, email_address=f"p{i}@example.org")
    pages = (1, 2, 3)
    sorted_pages = [[u.primary_id for u in patron_search.search(query, page, 7).rows] for page in pages]
    monkeypatch.setattr(patron_search, "SORT_LIMIT", 1)
    walked_pages = [[u.primary_id for u in patron_search.search(query, page, 7).rows] for page in pages]
    assert walked_pages == sorted_pages


@pytest.mark.db
def test_without_pg_trgm_the_postgresql_store_says_why_and_still_finds():
    """A PostgreSQL role that may not create the extension (no CREATE on the database): the store opens, says what
    is missing and how to fix it, and searches by reading every record. Needs the PostgreSQL server whatever
    ``KIOSK_TEST_DB`` says (at ``KIOSK_TEST_PG``)."""
    import uuid

    import psycopg2

    from tests.conftest import PG_ADMIN_URL

    suffix = uuid.uuid4().hex[:8]
    name, role = f"kiosk_test_notrgm_{suffix}", f"kiosk_notrgm_{suffix}"
    admin = psycopg2.connect(PG_ADMIN_URL)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE ROLE {role} LOGIN PASSWORD 'notrgm'")
    admin.cursor().execute(f"CREATE DATABASE {name}")
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    owner = psycopg2.connect(f"{base}/{name}")
    owner.autocommit = True
    owner.cursor().execute(f"REVOKE CREATE ON DATABASE {name} FROM PUBLIC")
    owner.cursor().execute(f"GRANT CREATE, USAGE ON SCHEMA public TO {role}")
    owner.close()
    try:
        host = base.split("//", 1)[1]
        db = schema.init(f"postgresql://{role}:notrgm@{host}/{name}")
        problem = patron_search.index_problem()
        with db.connection_context():
            factories.patron("P1", barcode=None, card=None, pin=None, first_name="Inès", last_name="Wójcik")
            listed = found("wojcik")
        db.close_all() if hasattr(db, "close_all") else db.close()
        assert ("CREATE EXTENSION pg_trgm" in (problem or ""), listed) == (True, ["P1"])
    finally:
        admin.cursor().execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
        admin.cursor().execute(f"DROP ROLE IF EXISTS {role}")
        admin.close()


def test_without_its_fts_table_a_sqlite_store_still_finds_by_name_email_and_phone(sqlite_store, monkeypatch):
    """As when the SQLite is older than 3.34 (no trigram tokenizer): ``index_problem`` is set and the search reads
    the tables."""
    user = factories.patron("P1", barcode=None, card=None, pin=None, first_name="Inès", last_name="Wójcik")
    Email.create(user=user, email_address="ines.w@example.org")
    Phone.create(user=user, phone_number="020 7946 0958")
    patron_search.drop_indexes(sqlite_store)
    monkeypatch.setattr(patron_search, "_problem", "no trigram tokenizer")
    assert (found("wojcik in"), found("ines.w@"), found("79460958"), found("wo")) == (["P1"], ["P1"], ["P1"], ["P1"])
