"""Finding patrons at the staff station: any part of any name, an identifier, an email address or a phone number.

Names are matched through ``User.search_name``, a normalised copy of the record's names kept on write (NFKD,
combining marks dropped, case folded, apostrophes dropped, other punctuation as spaces), so a search is case- and
accent-insensitive in the same way on SQLite and PostgreSQL and works for any script: "wojcik" finds "Wójcik",
"ines" finds "Inès", "δημ" finds "Δήμητρα". The key is ``surname|given names|preferred names``, which puts
surname-prefix matches in reach of one comparison. A row whose key is NULL (written by a bulk insert that does not
know of the column, or by an older version) is filled before searching (``fill_missing``) and when the store opens.

Ranking: an exact identifier (or primary id) match first, then records whose surname starts with the first word
searched, then the rest, each by name.
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field

import peewee as pw

from library_kiosk.central.store import bulk
from library_kiosk.central.store.db import database
from library_kiosk.central.store.models import Email, Phone, User, UserGroup

PAGE_SIZE = 25
KEY_LIMIT = 1000  # characters of the key stored (six names of 100 characters fit, after any expansion)
NAME_FIELDS = ("last_name", "first_name", "middle_name", "pref_first_name", "pref_middle_name", "pref_last_name")
_APOSTROPHES = "'\u2019\u02bc\u2018`\u00b4"
# letters NFKD leaves whole that staff type as a plain Latin letter (after case folding)
_PLAIN_LETTERS = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "ŧ": "t", "æ": "ae", "œ": "oe",
                                "þ": "th", "ð": "d"})
_PHONE_QUERY = re.compile(r"^[\d\s+().\-/]+$")
_PHONE_PUNCTUATION = (" ", "-", "(", ")", ".", "+", "/")


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
    an older store's table) and the keys of records that have none."""
    db = db or database
    db.execute_sql('CREATE INDEX IF NOT EXISTS "user_search_name" ON "user" ("search_name")')
    fill_missing()


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


def _matching(query: str, exact: User | None):
    """The condition on ``User`` for a search of ``query`` (None: nothing can match)."""
    terms = words(query)
    conditions = []
    if terms:
        name = None
        for term in terms:  # every word somewhere in the names
            part = _like(User.search_name, f"%{term}%")
            name = part if name is None else (name & part)
        conditions.append(name)
    plain = query.strip().lower()
    if len(plain) >= 3 and " " not in plain:
        emails = Email.select(Email.user).where(_like(pw.fn.LOWER(Email.email_address), f"%{_escape(plain)}%"))
        conditions.append(User.id.in_(emails))
    digits = _phone_digits(query.strip())
    if digits:
        number = Phone.phone_number
        for ch in _PHONE_PUNCTUATION:
            number = pw.fn.REPLACE(number, ch, "")
        conditions.append(User.id.in_(Phone.select(Phone.user).where(_like(number, f"%{digits}%"))))
    if exact is not None:
        conditions.append(User.id == exact.id)
    if not conditions:
        return None
    where = conditions[0]
    for cond in conditions[1:]:
        where = where | cond
    return where


def search(query: str, page: int = 1, page_size: int = PAGE_SIZE) -> Results:
    """One page of the records ``query`` finds, ranked (see the module's note)."""
    from library_kiosk.central.store.accounts import find_user

    query = (query or "").strip()
    results = Results(query=query, page=max(1, page), page_size=page_size)
    if not query:
        return results
    fill_missing()
    results.exact = find_user(query)
    where = _matching(query, results.exact)
    if where is None:
        return results
    results.total = User.select().where(where).count()
    results.page = min(results.page, results.pages)
    terms = words(query)
    ranks = []
    if results.exact is not None:
        ranks.append((User.id == results.exact.id, 0))
    if terms:
        first = terms[0]
        ranks.append((pw.fn.SUBSTR(User.search_name, 1, len(first)) == first, 1))
    rank = pw.Case(None, ranks, 2) if ranks else pw.Value(2)
    results.rows = list(
        User.select(User, UserGroup).join(UserGroup).where(where)
        .order_by(rank, User.last_name, User.first_name, User.id)
        .paginate(results.page, page_size))
    return results
