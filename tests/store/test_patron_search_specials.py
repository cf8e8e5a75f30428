"""The station's patron search (central/store/patron_search.py) given what a scanner, a paste or a curious member
of staff may type: control characters (a NUL, a tab, an escape) and the characters FTS5 and LIKE give a meaning
(quotes, ``*``, ``^``, ``NEAR``, ``-``, ``:``, ``%``) are searched as plain text, on SQLite and PostgreSQL
(``KIOSK_TEST_DB``): each query finds its matches or nothing, never an error."""
import pytest

from library_kiosk.central.store import patron_search
from library_kiosk.central.store.models import Email
from tests.store import factories


@pytest.fixture
def ann(central_db):
    user = factories.patron("P1", barcode=None, card=None, first_name="Ann", last_name="Smith")
    factories.patron("P2", barcode=None, card=None, first_name="Bob", last_name="Jones")
    Email.create(user=user, email_address="ann.smith@example.org")
    return user


@pytest.mark.parametrize("query", ["ab\x00cd", "\x00", "ab\tcd\x1b", "\x7f\x85", "a\u200bb"],
                         ids=["nul-inside", "nul-alone", "tab-and-escape", "del-and-c1", "zero-width-space"])
def test_a_control_character_in_the_query_finds_nothing_without_an_error(ann, query):
    assert patron_search.search(query).rows == []


@pytest.mark.parametrize("query", ["ann\x00smith", "smi\x00", "\x00smith@example\x00"],
                         ids=["between-words", "after-a-name", "around-an-email-address"])
def test_a_control_character_is_searched_as_a_space_between_words(ann, query):
    assert [u.primary_id for u in patron_search.search(query).rows] == ["P1"]


def test_a_query_is_cleaned_of_control_characters():
    assert patron_search.clean_query(" ab\x00cd\t\x1bef\u200b ") == "ab cd ef"


@pytest.mark.parametrize("query", ['"', '""', 'a"b', "sm*", "*", "^smi", "^", "NEAR(smith ann)", "NEAR", "-smith",
                                   "smith -ann", "name:smith", "emails:ann", ":", "{name}", "(smith", "smith)",
                                   "AND", "OR smith", "NOT", "ann + smith", "%", "_", "\\"])
def test_a_character_fts5_gives_a_meaning_is_plain_text(ann, query):
    found = [u.primary_id for u in patron_search.search(query).rows]
    assert set(found) <= {"P1", "P2"}


@pytest.mark.parametrize("query", ["^smi", "smi*", '"smith"', "-smith", "(smith)", 'ann"smith'],
                         ids=["caret", "star", "quoted", "minus", "brackets", "quote-between-words"])
def test_a_name_with_fts5_syntax_around_it_still_finds_the_patron(ann, query):
    assert [u.primary_id for u in patron_search.search(query).rows] == ["P1"]


@pytest.mark.parametrize("query", ["name:smith", "NEAR(smith ann)", "smith NOT ann", "emails:ann"],
                         ids=["column-filter", "near", "not", "other-column-filter"])
def test_an_fts5_operator_is_searched_as_a_word_not_obeyed(ann, query):
    assert patron_search.search(query).rows == []


@pytest.mark.parametrize("query", ['"@example.org', "@exa*mple", "@example^org", "@example:org"],
                         ids=["quote", "star", "caret", "colon"])
def test_fts5_syntax_inside_an_email_query_matches_only_itself(ann, query):
    assert patron_search.search(query).rows == []
