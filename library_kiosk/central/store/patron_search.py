"""Finding patrons at the staff station: any part of any name, an identifier, an email address or a phone number.

Names are matched through ``User.search_name``, a normalised copy of the record's names kept on write (NFKD,
combining marks dropped, case folded, apostrophes dropped, other punctuation as spaces), so a search is case- and
accent-insensitive in the same way on SQLite and PostgreSQL and works for any script: "wojcik" finds "Wójcik",
"ines" finds "Inès", "δημ" finds "Δήμητρα". The key is ``surname|given names|preferred names``, which puts
surname-prefix matches in reach of one comparison. A row whose key is NULL (written by a bulk insert that does not
know of the column, or by an older version) is filled before searching (``fill_missing``) and when the store opens.

Ranking: an exact identifier (or primary id) match first, then records whose surname starts with the first word
searched, then the rest, each in the key's order (surname, then given names, without accents or case).

Speed at a million records (docs/station-search.md has the figures). PostgreSQL: pg_trgm GIN indexes on
``search_name`` and on two columns of "user" outside the model, ``search_emails`` and ``search_phones`` (each
patron's addresses in lower case and numbers' digits, kept by triggers on "email" and "phone"), used by the planner
for the ``LIKE`` conditions; a search is one ``OR`` over one table, its page and count one statement. When the
extension cannot be created the store says so in its log and ``index_problem()`` and searches by reading every row.
SQLite: one FTS5 table with the trigram tokenizer (``patron_search_fts``: names, emails, phones per patron) kept in
step by triggers whatever writes the rows; its ``MATCH`` is an exact substring test, so the matches' ids and count
come from the index alone, and more than ``SORT_LIMIT`` matches are listed by walking the key's index in order. A
trigram needs three characters, so a query whose words are all shorter matches a name word that *starts* with each
word (two characters) or a surname that starts with it (one character).

Whatever is typed is searched as plain text (``clean_query``): control and invisible format characters (a NUL, a
tab, an escape, a zero-width space: what a scanner or a paste may bring) separate words as a space does, and the
characters FTS5 and ``LIKE`` give a meaning (quotes, ``*``, ``^``, ``:``, ``-``, ``NEAR``, ``%``, ``_``) are quoted
or escaped, so any query finds its matches or nothing.
"""
from __future__ import annotations

import logging
import math
import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field

import peewee as pw

from library_kiosk.central.store import bulk
from library_kiosk.central.store.db import database, is_postgres
from library_kiosk.central.store.models import Email, Phone, User, UserGroup

log = logging.getLogger(__name__)

PAGE_SIZE = 25
TRIGRAM = 3  # a word this long or longer is looked up in the trigram index; a shorter one by its start
KEY_LIMIT = 1000  # characters of the key stored (six names of 100 characters fit, after any expansion)
NAME_FIELDS = ("last_name", "first_name", "middle_name", "pref_first_name", "pref_middle_name", "pref_last_name")
_APOSTROPHES = "'\u2019\u02bc\u2018`\u00b4"
# letters NFKD leaves whole that staff type as a plain Latin letter (after case folding)
_PLAIN_LETTERS = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "ŧ": "t", "æ": "ae", "œ": "oe",
                                "þ": "th", "ð": "d"})
_PHONE_QUERY = re.compile(r"^[\d\s+().\-/]+$")
_PHONE_PUNCTUATION = (" ", "-", "(", ")", ".", "+", "/")


_INVISIBLE = ("Cc", "Cf", "Cs")  # control, format (zero-width space, bidi marks), lone surrogates


def clean_query(text: str) -> str:
    """``text`` as the search reads it: each control or invisible format character a space (a NUL would end an
    FTS5 string early and is refused by PostgreSQL), runs of spaces one, trimmed."""
    return " ".join("".join(" " if unicodedata.category(ch) in _INVISIBLE else ch for ch in text or "").split())


def normalise(text: str) -> str:
    """Words of ``text`` compared without case or accents: NFKD, combining marks dropped, case folded, apostrophes
    dropped, a few letters that do not decompose (ł, ø, æ...) as plain Latin, anything else that is not a letter, digit
    or spacing mark a space between words."""
    out = []
    for ch in unicodedata.normalize("NFKD", text or "").casefold().translate(_PLAIN_LETTERS):
        kind = unicodedata.category(ch)
        if kind in ("Mn", "Me") or ch in _APOSTROPHES:
            continue
        out.append(ch if ch.isalnum() or kind == "Mc" else " ")
    return " ".join("".join(out).split())


def words(query: str) -> list[str]:
    return normalise(query).split()


def search_key(last: str, first: str = "", middle: str = "", pref_first: str = "", pref_middle: str = "",
               pref_last: str = "") -> str:
    """The ``search_name`` of a record with these names."""
    given = normalise(f"{first} {middle}")
    preferred = normalise(f"{pref_first} {pref_middle} {pref_last}")
    return f"{normalise(last)}|{given}|{preferred}"[:KEY_LIMIT]


def refresh(user_ids) -> None:
    """Recompute the key of these users (after their names were written)."""
    ids = list(user_ids)
    for part in bulk.chunks(ids, 500):
        rows = (User.select(User.id, *(getattr(User, f) for f in NAME_FIELDS))
                .where(User.id.in_(part)).tuples())
        bulk.update_by_id(User, ["search_name"], [(search_key(*names), uid) for uid, *names in rows])


def fill_missing(batch: int = 1000) -> int:
    """Fill the key of every record that has none, ``batch`` records per transaction; return how many."""
    filled = 0
    while True:
        with database.atomic():
            ids = [uid for (uid,) in User.select(User.id).where(User.search_name.is_null()).limit(batch).tuples()]
            if not ids:
                return filled
            refresh(ids)
        filled += len(ids)


def prepare(db=None) -> None:
    """When the store opens: the key's index (made here, after ``schema.add_missing_columns`` added the column to
    an older store's table), the keys of records that have none, then the trigram indexes (made once; on SQLite
    filled from the rows already there)."""
    db = db or database
    db.execute_sql('CREATE INDEX IF NOT EXISTS "user_search_name" ON "user" ("search_name")')
    fill_missing()
    if is_postgres(db.obj if hasattr(db, "obj") else db):
        _prepare_postgres(db)
    else:
        _prepare_sqlite(db)


_problem: str | None = None


def index_problem() -> str | None:
    """Why the trigram indexes could not be made when the store last opened (searches then read every row), or
    None."""
    return _problem


def _digits_sql(column: str) -> str:
    """SQL for ``column`` without the punctuation a phone number may hold (as a phone search compares it)."""
    for ch in _PHONE_PUNCTUATION:
        column = f"replace({column}, '{ch}', '')"
    return column


_DIGITS_SQL = _digits_sql("phone_number")

POSTGRES_INDEXES = {
    "user_search_name_trgm": 'CREATE INDEX IF NOT EXISTS "user_search_name_trgm" ON "user" '
                             "USING gin (search_name gin_trgm_ops)",
    "user_search_emails_trgm": 'CREATE INDEX IF NOT EXISTS "user_search_emails_trgm" ON "user" '
                               "USING gin (search_emails gin_trgm_ops)",
    "user_search_phones_trgm": 'CREATE INDEX IF NOT EXISTS "user_search_phones_trgm" ON "user" '
                               "USING gin (search_phones gin_trgm_ops)",
}
# PostgreSQL: each patron's email addresses (lower case) and phone numbers' digits, several joined by a line break
# (which no query holds), in two columns of "user" outside the model, kept by triggers on "email" and "phone"; so a
# search reads one table, whose rows its page needs anyway, and one trigram bitmap for names, emails and phones.
_PG_CONTACTS = f'''
CREATE OR REPLACE FUNCTION patron_search_contacts_of(uid integer) RETURNS void LANGUAGE sql AS $$
  UPDATE "user" SET
    search_emails = (SELECT string_agg(lower(email_address), E'\\n' ORDER BY id) FROM "email" WHERE user_id = uid),
    search_phones = (SELECT string_agg({_DIGITS_SQL}, E'\\n' ORDER BY id) FROM "phone" WHERE user_id = uid)
  WHERE id = uid
$$;
CREATE OR REPLACE FUNCTION patron_search_contacts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM patron_search_contacts_of(OLD.user_id); END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.user_id <> OLD.user_id) THEN
    PERFORM patron_search_contacts_of(NEW.user_id);
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER patron_search_email AFTER INSERT OR UPDATE OR DELETE ON "email"
  FOR EACH ROW EXECUTE FUNCTION patron_search_contacts();
CREATE OR REPLACE TRIGGER patron_search_phone AFTER INSERT OR UPDATE OR DELETE ON "phone"
  FOR EACH ROW EXECUTE FUNCTION patron_search_contacts();
'''
_PG_FILL = f'''
UPDATE "user" u SET search_emails = e.found FROM (SELECT user_id, string_agg(lower(email_address), E'\\n' ORDER BY id)
  AS found FROM "email" GROUP BY user_id) e WHERE e.user_id = u.id;
UPDATE "user" u SET search_phones = p.found FROM (SELECT user_id, string_agg({_DIGITS_SQL}, E'\\n' ORDER BY id)
  AS found FROM "phone" GROUP BY user_id) p WHERE p.user_id = u.id;
'''


def _prepare_postgres(db) -> None:
    """The contact columns and their triggers (made and filled once), then pg_trgm and the trigram indexes."""
    global _problem
    has = {c for (c,) in db.execute_sql("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                         "current_schema() AND table_name = 'user'").fetchall()}
    db.execute_sql('CREATE INDEX IF NOT EXISTS "user_search_name_c" ON "user" (search_name COLLATE "C")')
    if not {"search_emails", "search_phones"} <= has:
        with db.atomic():
            db.execute_sql('ALTER TABLE "user" ADD COLUMN IF NOT EXISTS search_emails text, '
                           "ADD COLUMN IF NOT EXISTS search_phones text")
            db.execute_sql(_PG_CONTACTS)
            db.execute_sql(_PG_FILL)
    try:
        with db.atomic():
            db.execute_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except pw.DatabaseError as error:
        if not db.execute_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").fetchone():
            _problem = (f"the PostgreSQL extension pg_trgm could not be created ({str(error).strip()}): the station's "
                        "patron search reads every record (slow with many patrons). Fix: as a superuser, "
                        "CREATE EXTENSION pg_trgm; in this database (Debian: the postgresql-contrib package).")
            log.warning("%s", _problem)
            return
    for statement in POSTGRES_INDEXES.values():
        db.execute_sql(statement)
    _problem = None


# SQLite: one trigram FTS5 table, a row per patron (its rowid the user's id) holding the names' key, the email
# addresses and the phone numbers' digits (several joined by a line break, which no query holds), kept in step by
# triggers on the three tables whatever writes them: each rewrites the patron's row.
FTS_TABLE = "patron_search_fts"
_FTS_ROW = ('INSERT INTO patron_search_fts(rowid, name, emails, phones) SELECT u.id, u.search_name, '
            '(SELECT group_concat(e.email_address, char(10)) FROM "email" e WHERE e.user_id = u.id), '
            f'(SELECT group_concat({_digits_sql("p.phone_number")}, char(10)) FROM "phone" p WHERE p.user_id = u.id) '
            'FROM "user" u')


def _rewrite(user_id: str) -> str:
    return f"DELETE FROM patron_search_fts WHERE rowid = {user_id}; {_FTS_ROW} WHERE u.id = {user_id};"


_FTS_CREATE = "CREATE VIRTUAL TABLE patron_search_fts USING fts5(name, emails, phones, tokenize='trigram')"
_FTS_TRIGGERS = {
    "patron_search_user_insert": f'AFTER INSERT ON "user" BEGIN {_rewrite("new.id")} END',
    "patron_search_user_update": f'AFTER UPDATE OF search_name ON "user" BEGIN {_rewrite("new.id")} END',
    "patron_search_user_delete": 'AFTER DELETE ON "user" BEGIN DELETE FROM patron_search_fts WHERE rowid = old.id; END',
    "patron_search_email_insert": f'AFTER INSERT ON "email" BEGIN {_rewrite("new.user_id")} END',
    "patron_search_email_update": f'AFTER UPDATE OF email_address, user_id ON "email" BEGIN {_rewrite("old.user_id")} '
                                  f'{_rewrite("new.user_id")} END',
    "patron_search_email_delete": f'AFTER DELETE ON "email" BEGIN {_rewrite("old.user_id")} END',
    "patron_search_phone_insert": f'AFTER INSERT ON "phone" BEGIN {_rewrite("new.user_id")} END',
    "patron_search_phone_update": f'AFTER UPDATE OF phone_number, user_id ON "phone" BEGIN {_rewrite("old.user_id")} '
                                  f'{_rewrite("new.user_id")} END',
    "patron_search_phone_delete": f'AFTER DELETE ON "phone" BEGIN {_rewrite("old.user_id")} END',
}


def _prepare_sqlite(db) -> None:
    """The FTS table, when missing, is made and filled with its triggers in one transaction (SQLite >= 3.34 for the
    trigram tokenizer; Debian bookworm has 3.40)."""
    global _problem
    try:
        if not db.execute_sql("SELECT 1 FROM sqlite_master WHERE name = ?", (FTS_TABLE,)).fetchone():
            with db.atomic():
                db.execute_sql(_FTS_CREATE)
                db.execute_sql(_FTS_ROW)
                for name, body in _FTS_TRIGGERS.items():
                    db.execute_sql(f"CREATE TRIGGER IF NOT EXISTS {name} {body}")
    except pw.OperationalError as error:  # no FTS5, or a SQLite older than 3.34 (no trigram tokenizer)
        _problem = (f"SQLite {sqlite3.sqlite_version} cannot make the trigram index ({error}): the station's "
                    "patron search reads every record (slow with many patrons). SQLite 3.34 or newer with FTS5 "
                    "is needed.")
        log.warning("%s", _problem)
        return
    _problem = None


def drop_indexes(db=None) -> None:
    """Drop the trigram indexes (and on SQLite their triggers): before a bulk load of many rows, after which
    ``prepare`` makes them again, faster than keeping them row by row."""
    db = db or database
    if is_postgres(db.obj if hasattr(db, "obj") else db):
        for name in POSTGRES_INDEXES:
            db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
        db.execute_sql('DROP TRIGGER IF EXISTS patron_search_email ON "email"; '
                       'DROP TRIGGER IF EXISTS patron_search_phone ON "phone"; '
                       'ALTER TABLE "user" DROP COLUMN IF EXISTS search_emails, DROP COLUMN IF EXISTS search_phones')
        return
    for name in _FTS_TRIGGERS:
        db.execute_sql(f"DROP TRIGGER IF EXISTS {name}")
    db.execute_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")


def _sqlite_indexed() -> bool:
    return not is_postgres() and _problem is None


def _phrase(column: str, text: str) -> str:
    """``text`` as one FTS5 phrase in ``column`` (a substring, for the trigram tokenizer)."""
    return "{" + column + '} : "' + text.replace('"', '""') + '"'


def _fts_ids(match: str):
    """The rowids (user ids) of the FTS table's rows that ``match`` finds, as a parenthesised subquery."""
    return pw.SQL(f"(SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?)", [match])


@dataclass
class Results:
    query: str
    page: int = 1
    page_size: int = PAGE_SIZE
    total: int = 0
    rows: list = field(default_factory=list)
    exact: User | None = None  # the record an identifier or primary id names exactly

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _like(expr, pattern: str):
    """``expr LIKE pattern`` with ``\\`` escaping the pattern's wildcards (the same on both databases)."""
    return pw.NodeList((expr, pw.SQL("LIKE"), pattern, pw.SQL("ESCAPE '\\'")))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _phone_digits(query: str) -> str:
    if not _PHONE_QUERY.match(query):
        return ""
    digits = re.sub(r"\D", "", query)
    return digits if len(digits) >= 4 else ""


def _surname_starts(term: str):
    """The key starts with ``term``: on SQLite a range of its B-tree index; on PostgreSQL (whose collation may not
    order by code point) a prefix ``LIKE`` the trigram index serves."""
    if is_postgres():
        return _like(User.search_name, f"{term}%")
    return (User.search_name >= term) & (User.search_name < term + "\U0010ffff")


def _word_start(term: str):
    """A name word starts with ``term`` (two characters), or the surname (one)."""
    if len(term) == 1:
        return _surname_starts(term)
    if _sqlite_indexed():
        return _surname_starts(term) | User.id.in_(_fts_ids(_word_start_match(term)))
    return (_like(User.search_name, f"{term}%") | _like(User.search_name, f"% {term}%")
            | _like(User.search_name, f"%|{term}%"))


def _word_start_match(term: str) -> str:
    return f"{_phrase('name', ' ' + term)} OR {_phrase('name', '|' + term)}"


def _name_ids(terms: list[str]) -> list:
    """SQLite: queries of the ids of the records whose names hold every word (their union): a word of 3+
    characters anywhere; when all are shorter, each must start a name word (two characters) or the surname (one).
    The FTS table's rowids are used as they are where its match is exact, without reading the records."""
    long = [term for term in terms if len(term) >= TRIGRAM]
    if not long:
        if _sqlite_indexed() and len(terms) == 1:
            found = [User.select(User.id).where(_surname_starts(terms[0]))]
            return found + ([_fts_ids(_word_start_match(terms[0]))] if len(terms[0]) == 2 else [])
        return [User.select(User.id).where(_all(_word_start(term) for term in terms))]
    anywhere = [_like(User.search_name, f"%{term}%") for term in terms]
    match = _fts_ids(" AND ".join(_phrase("name", term) for term in long))  # exact substrings: no check needed
    if len(long) == len(terms):
        return [match]
    return [User.select(User.id).where(User.id.in_(match) & _all(anywhere))]


def _all(conditions):
    found = None
    for condition in conditions:
        found = condition if found is None else (found & condition)
    return found


def condition(query: str, exact: User | None = None):
    """PostgreSQL (and SQLite without its FTS table): the condition on ``User`` for a search of ``query``, one
    ``OR`` the trigram indexes serve as one bitmap (None: nothing can match)."""
    terms = words(query)
    found = []
    if terms:
        long = any(len(term) >= TRIGRAM for term in terms)
        found.append(_all(_like(User.search_name, f"%{term}%") for term in terms) if long
                     else _all(_word_start(term) for term in terms))
    plain = query.strip().lower()
    if len(plain) >= 3 and not any(ch.isspace() for ch in plain):
        if is_postgres():
            found.append(_like(pw.SQL('"search_emails"'), f"%{_escape(plain)}%"))
        else:
            found.append(User.id.in_(Email.select(Email.user).where(
                _like(pw.fn.LOWER(Email.email_address), f"%{_escape(plain)}%"))))
    digits = _phone_digits(query.strip())
    if digits:
        if is_postgres():
            found.append(_like(pw.SQL('"search_phones"'), f"%{digits}%"))
        else:
            number = Phone.phone_number
            for ch in _PHONE_PUNCTUATION:
                number = pw.fn.REPLACE(number, ch, "")
            found.append(User.id.in_(Phone.select(Phone.user).where(_like(number, f"%{digits}%"))))
    if exact is not None:
        found.append(User.id == exact.id)
    where = None
    for each in found:
        where = each if where is None else (where | each)
    return where


def candidates(query: str, exact: User | None = None) -> pw.SQL | None:
    """A parenthesised query of the ids of every record ``query`` finds (None: nothing can match): by name, email
    address, phone number, and the exact identifier's record. SQLite: a union of the FTS table's rowids (read
    without the records) and the key's range."""
    if not _sqlite_indexed():
        where = condition(query, exact)
        if where is None:
            return None
        sql, values = User.select(User.id).where(where).sql()
        return pw.SQL(f"({sql})", values)
    terms = words(query)
    found: list = []
    if terms:
        found += _name_ids(terms)
    plain = query.strip().lower()
    if len(plain) >= 3 and not any(ch.isspace() for ch in plain):
        found.append(_fts_ids(_phrase("emails", plain)))  # the trigram index folds case itself
    digits = _phone_digits(query.strip())
    if digits:
        found.append(_fts_ids(_phrase("phones", digits)))
    if exact is not None:
        found.append(User.select(User.id).where(User.id == exact.id))
    if not found:
        return None
    parts, params = [], []
    for each in found:
        sql, values = (each.sql, each.params) if isinstance(each, pw.SQL) else each.sql()
        parts.append(sql[1:-1] if isinstance(each, pw.SQL) else sql)
        params.extend(values or [])
    return pw.SQL("(" + " UNION ".join(parts) + ")", params)


def matching(query: str, exact: User | None = None):
    """The condition on ``User`` for a search of ``query`` (None: nothing can match)."""
    found = candidates(query, exact)
    return None if found is None else User.id.in_(found)


SORT_LIMIT = 2000  # SQLite sorts up to this many matches; more are listed by walking the key's index in order


def search(query: str, page: int = 1, page_size: int = PAGE_SIZE) -> Results:
    """One page of the records ``query`` finds, ranked (see the module's note)."""
    from library_kiosk.central.store.accounts import find_user

    query = clean_query(query)
    results = Results(query=query, page=max(1, page), page_size=page_size)
    if not query:
        return results
    fill_missing()
    results.exact = find_user(query)
    found = candidates(query, results.exact)
    if found is None:
        return results
    terms = words(query)
    ranks = []
    if results.exact is not None:
        ranks.append((User.id == results.exact.id, 0))
    if terms:
        ranks.append((pw.fn.SUBSTR(User.search_name, 1, len(terms[0])) == terms[0], 1))
    rank = pw.Case(None, ranks, 2) if ranks else pw.Value(2)
    where = User.id.in_(found) if _sqlite_indexed() else condition(query, results.exact)
    ranked = User.select(User, UserGroup).join(UserGroup).where(where).order_by(rank, _key(), User.id)
    if len(terms) == 1 and len(terms[0]) == 1 and results.exact is None:
        return _surnames_from(results, terms[0])
    if is_postgres():  # one pass: the matches are read once, for the count and the page's ids (a narrow sort)
        page_ids = list(User.select(User.id, pw.fn.COUNT(pw.SQL("*")).over()).where(where)
                        .order_by(rank, _key(), User.id).offset((results.page - 1) * page_size).limit(page_size)
                        .tuples())
        if page_ids:
            results.total = page_ids[0][1]
            rows = {u.id: u for u in User.select(User, UserGroup).join(UserGroup)
                    .where(User.id.in_([i for i, _n in page_ids]))}
            results.rows = [rows[i] for i, _n in page_ids if i in rows]
            return results
    results.total = database.execute_sql(f"SELECT count(*) FROM {found.sql} AS found", found.params).fetchone()[0]
    if results.total == 0:
        return results
    results.page = min(results.page, results.pages)
    offset = (results.page - 1) * page_size
    if is_postgres() or results.total <= SORT_LIMIT:
        results.rows = list(ranked.offset(offset).limit(page_size))
        return results
    ids = _walk(found, terms[0] if terms else None, results.exact, offset, page_size)
    rows = {u.id: u for u in User.select(User, UserGroup).join(UserGroup).where(User.id.in_(ids))}
    results.rows = [rows[i] for i in ids if i in rows]
    return results


def _key():
    """The key as both databases order it: by code point (SQLite's binary order; PostgreSQL's collation "C", whatever
    the database's collation, so the two list results alike)."""
    return User.search_name if not is_postgres() else pw.NodeList((User.search_name, pw.SQL('COLLATE "C"')))


def _surnames_from(results: Results, letter: str) -> Results:
    """A one-letter search: the surnames that start with ``letter``, a range of the key's B-tree index in the key's
    order (on PostgreSQL the index in code point order, ``user_search_name_c``), counted and paged in the index."""
    key = _key()
    starts = (key >= letter) & (key < letter + "\U0010ffff")
    results.total = User.select(User.id).where(starts).count()
    results.page = min(results.page, results.pages)
    ids = [i for (i,) in User.select(User.id).where(starts).order_by(key, User.id)
           .offset((results.page - 1) * results.page_size).limit(results.page_size).tuples()]
    rows = {u.id: u for u in User.select(User, UserGroup).join(UserGroup).where(User.id.in_(ids))}
    results.rows = [rows[i] for i in ids if i in rows]
    return results


def _walk(found, first: str | None, exact: User | None, offset: int, limit: int) -> list[int]:
    """SQLite: the ids of one page of many matches, in rank order, each tier read in the order of the key's index
    (so the database stops at the page instead of sorting every match): the exact record, the surnames that start
    with ``first``, then the rest."""
    ids: list[int] = []
    if exact is not None:
        ids = [exact.id][offset:offset + limit]
        offset = max(0, offset - 1)
    starts = _surname_starts(first) if first else None
    tiers = [starts, ~starts] if starts is not None else [None]
    for tier in tiers:
        if len(ids) >= limit:
            break
        condition = pw.SQL("+t1.id").in_(found)  # "+": not the id's index, the key's, for the order
        if tier is not None:
            condition = condition & tier
        if exact is not None:
            condition = condition & (User.id != exact.id)
        query = User.select(User.id).where(condition).from_(pw.SQL('"user" AS "t1" INDEXED BY "user_search_name"'))
        if tier is not None and tier is starts:
            count = query.count()
            if offset >= count:
                offset -= count
                continue
        page = query.order_by(User.search_name, User.id).offset(offset).limit(limit - len(ids))
        ids.extend(i for (i,) in page.tuples())
        offset = 0
    return ids
