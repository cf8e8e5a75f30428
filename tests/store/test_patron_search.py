"""The station's patron search (central/store/patron_search.py) on the real store, SQLite or PostgreSQL
(``KIOSK_TEST_DB``): any part of any name without case or accents in any script, identifiers, email, phone, paging
and ranking."""
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from library_kiosk.central.store import patron_search, schema
from library_kiosk.central.store.models import Email, Phone, User
from tests.store import factories

# Letters as a record holds them, each with what a member of staff may type for it (lower case, no accent).
LATIN = [(c, c) for c in "abcdefghijklmnopqrstuvwxyz"] + [
    ("á", "a"), ("é", "e"), ("è", "e"), ("ï", "i"), ("ô", "o"), ("ü", "u"), ("ç", "c"), ("ñ", "n"), ("ó", "o"),
    ("ł", "l"), ("ø", "o"), ("š", "s"), ("ž", "z"), ("ă", "a"), ("ő", "o"), ("ć", "c")]
GREEK = [(c, c) for c in "αβγδεζθικλμνξοπρστυφχψω"] + [("ά", "α"), ("έ", "ε"), ("ή", "η"), ("ί", "ι"), ("ό", "ο"),
                                                      ("ύ", "υ"), ("ώ", "ω")]
CYRILLIC = [(c, c) for c in "абвгдежзиклмнопрстуфхцчшщыэюя"]
CJK = [(c, c) for c in "王李张刘陈杨黄赵明华金朴崔"]
SCRIPTS = [LATIN, GREEK, CYRILLIC, CJK]


@st.composite
def word(draw, script):
    letters = draw(st.lists(st.sampled_from(script), min_size=2, max_size=8))
    capital = draw(st.booleans())
    stored = "".join(s for s, _t in letters)
    return (stored[0].upper() + stored[1:] if capital else stored), "".join(t for _s, t in letters)


@st.composite
def name(draw):
    """A name of one to three words of one script joined by a space, a hyphen or an apostrophe; with its typed
    form (the oracle: separators as the test's own fold sees them)."""
    script = draw(st.sampled_from(SCRIPTS))
    parts = draw(st.lists(word(script), min_size=1, max_size=3))
    seps = draw(st.lists(st.sampled_from([" ", "-", "'", "\u2019"]), min_size=len(parts) - 1,
                         max_size=len(parts) - 1))
    stored, typed = parts[0][0], parts[0][1]
    for sep, (s, t) in zip(seps, parts[1:]):
        stored += sep + s
        typed += ("" if sep in "'\u2019" else " ") + t
    return stored, typed


@st.composite
def case(draw):
    """Patrons' names, and a query: part of one word of one patron's name, typed with or without the accents and
    in any case."""
    people = draw(st.lists(st.tuples(name(), name()), min_size=1, max_size=4))
    who = draw(st.integers(0, len(people) - 1))
    field = draw(st.integers(0, 1))
    stored, typed = people[who][field]
    typed_words = typed.split()
    chosen = draw(st.integers(0, len(typed_words) - 1))
    target = typed_words[chosen]
    start = draw(st.integers(0, len(target) - 1))
    end = draw(st.integers(start + 1, len(target)))
    query = target[start:end]
    if draw(st.booleans()):
        query = query.upper()
    return people, query


def _expected(people, query):
    """The oracle: the patrons one of whose names, in its typed form, holds the query; a query shorter than a
    trigram (docs/station-search.md) must start a word of the names (two characters) or the surname (one)."""
    wanted = query.lower()

    def holds(first: str, last: str) -> bool:
        if len(wanted) == 1:
            return last.startswith(wanted)
        if len(wanted) == 2:
            return any(w.startswith(wanted) for w in (first + " " + last).split())
        return any(wanted in w for w in (first + " " + last).split())

    return {f"P{i}" for i, ((_f, first), (_l, last)) in enumerate(people) if holds(first, last)}


@hsettings(max_examples=60, deadline=None, derandomize=True,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(example=case())
def test_any_part_of_any_name_finds_its_patrons_and_no_other(central_db, example):
    people, query = example
    User.delete().execute()
    for i, ((first, _t), (last, _u)) in enumerate(people):
        factories.patron(f"P{i}", barcode=None, card=None, pin=None, first_name=first, last_name=last)
    found = patron_search.search(query)
    assert {u.primary_id for u in found.rows} == _expected(people, query)


def test_accents_and_case_are_ignored_both_ways(central_db):
    factories.patron("P1", barcode=None, card=None, first_name="Inès", last_name="Wójcik")
    factories.patron("P2", barcode=None, card=None, first_name="Ines", last_name="Wojcik")
    assert {u.primary_id for u in patron_search.search("WÓJCIK inès").rows} == {"P1", "P2"}


def test_preferred_and_middle_names_are_searched(central_db):
    factories.patron("P1", barcode=None, card=None, first_name="Robert", last_name="Nowak", middle_name="Józef",
                     pref_first_name="Bobby")
    assert [u.primary_id for u in patron_search.search("bobby").rows] == ["P1"]
    assert [u.primary_id for u in patron_search.search("jozef").rows] == ["P1"]


def test_an_exact_barcode_names_the_record_and_ranks_it_first(central_db):
    factories.patron("P1", barcode="20000000000011", card=None, first_name="Ann", last_name="Smith")
    found = patron_search.search("20000000000011")
    assert (found.exact.primary_id, [u.primary_id for u in found.rows]) == ("P1", ["P1"])


def test_a_card_number_in_lower_case_names_the_record(central_db):
    factories.patron("P1", barcode=None, card="04A1B2C3D4E5F6", first_name="Ann", last_name="Smith")
    assert patron_search.search("04a1b2c3d4e5f6").exact.primary_id == "P1"


def test_a_surname_prefix_ranks_before_a_match_elsewhere(central_db):
    factories.patron("P1", barcode=None, card=None, first_name="Marek", last_name="Kowalski")
    factories.patron("P2", barcode=None, card=None, first_name="Ann", last_name="Martin")
    factories.patron("P3", barcode=None, card=None, first_name="Ann", last_name="Delamare")
    assert [u.primary_id for u in patron_search.search("mar").rows] == ["P2", "P3", "P1"]


def test_pages_of_25_cover_every_match_once(central_db):
    for i in range(30):
        factories.patron(f"P{i:02d}", barcode=None, card=None, first_name=f"Ann{chr(97 + i % 26)}", last_name="Nowak")
    first, second = patron_search.search("nowak", 1), patron_search.search("nowak", 2)
    assert (first.total, first.pages, len(first.rows), len(second.rows),
            len({u.primary_id for u in first.rows + second.rows})) == (30, 2, 25, 5, 30)


def test_an_email_address_or_part_of_it_finds_the_patron(central_db):
    user = factories.patron("P1", barcode=None, card=None, first_name="Ann", last_name="Smith")
    factories.patron("P2", barcode=None, card=None, first_name="Bob", last_name="Jones")
    Email.create(user=user, email_address="Ann_Smith@Example.org")
    assert [u.primary_id for u in patron_search.search("ann_smith@example").rows] == ["P1"]


def test_a_phone_number_typed_without_its_punctuation_finds_the_patron(central_db):
    user = factories.patron("P1", barcode=None, card=None, first_name="Ann", last_name="Smith")
    factories.patron("P2", barcode=None, card=None, first_name="Bob", last_name="Jones")
    Phone.create(user=user, phone_number="+44 (0)20 7946-0958")
    assert [u.primary_id for u in patron_search.search("7946 0958").rows] == ["P1"]


def test_records_without_a_key_get_one_when_the_store_opens(central_db):
    factories.patron("P1", barcode=None, card=None, first_name="Ann", last_name="Wójcik")
    User.update(search_name=None).execute()  # as an older version or a bulk insert leaves it
    patron_search.prepare(central_db)
    assert User.get(User.primary_id == "P1").search_name == "wojcik|ann|"


def test_a_wildcard_in_the_query_matches_only_itself(central_db):
    user = factories.patron("P1", barcode=None, card=None, first_name="Ann", last_name="Smith")
    factories.patron("P2", barcode=None, card=None, first_name="Bob", last_name="Jones")
    Email.create(user=user, email_address="a%b@example.org")
    assert [u.primary_id for u in patron_search.search("a%b@").rows] == ["P1"]


@pytest.mark.parametrize("query", ["", "   ", "--"])
def test_a_query_without_words_finds_nothing(central_db, query):
    factories.patron("P1", barcode=None, card=None, first_name="Ann", last_name="Smith")
    assert patron_search.search(query).rows == []


def test_an_older_store_gets_the_column_its_index_and_the_keys_when_opened(central_db):
    factories.patron("P1", barcode=None, card=None, first_name="Ann", last_name="Wójcik")
    patron_search.drop_indexes(central_db)  # as a store made before the search: no trigram index either
    central_db.execute_sql('DROP INDEX "user_search_name"')
    central_db.execute_sql('ALTER TABLE "user" DROP COLUMN "search_name"')  # as a store made before the search
    schema.create_tables(central_db)
    assert [u.primary_id for u in patron_search.search("wojcik").rows] == ["P1"]
