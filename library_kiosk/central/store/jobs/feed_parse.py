"""The patron feed's parse phase: a file's rows as ``FeedRecord``s (or ``BadRow``s), no database.

Formats: CSV with the column mapping documented in ``docs/feed.md``, and Alma's
user XML (``<users><user>...</user></users>``, the SIS synchronisation shape).
A row that cannot be read is a ``BadRow`` (its line and reason; the rest load); a
file that cannot be read at all raises ``FeedFileError``.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from operator import itemgetter
from xml.parsers import expat

from library_kiosk.central.store.jobs.report import JobRefused

FORMATS = ("csv", "alma-xml")
REQUIRED_COLUMNS = ("primary_id", "last_name", "user_group", "expiry_date")
OPTIONAL_COLUMNS = (
    "first_name", "middle_name", "purge_date", "status", "record_type", "preferred_language",
    "barcode", "univ_id", "other_ids", "email", "email_type", "phone", "phone_type",
    "address_line1", "address_line2", "address_line3", "city", "state_province", "postal_code", "country",
    "address_type", "statistic_category", "statistic_category_type",
)
CORE_FIELDS = ("first_name", "middle_name", "last_name", "user_group", "expiry_date", "purge_date", "status",
               "record_type")
STATUSES = ("ACTIVE", "INACTIVE")
RECORD_TYPES = ("PUBLIC", "STAFF", "CONTACT")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})Z?$")
_BAD_BYTES = re.compile("[\udc80-\udcff]")


class BadRow(Exception):
    def __init__(self, line: int, reason: str, primary_id: str = ""):
        super().__init__(reason)
        self.line, self.reason, self.primary_id = line, reason, primary_id


class FeedFileError(Exception):
    """The file as a whole cannot be read (missing columns, not well-formed XML)."""


@dataclass(slots=True)
class FeedRecord:
    line: int
    primary_id: str
    core: list  # the values of CORE_FIELDS, in that order
    identifiers: list = field(default_factory=list)  # (id_type, value, status, note)
    emails: list = field(default_factory=list)
    addresses: list = field(default_factory=list)
    phones: list = field(default_factory=list)
    statistics: list = field(default_factory=list)
    preferred_language: str = ""


_DATES: dict[str, dt.date] = {}  # the same few dates repeat across a feed


def parse_date(text: str, name: str, line: int, pid: str = "") -> dt.date | None:
    text = (text or "").strip()
    if not text:
        return None
    found = _DATES.get(text)
    if found is not None:
        return found
    match = _DATE.match(text)
    try:
        if not match:
            raise ValueError
        found = dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise BadRow(line, f"bad {name} {text!r} (expected YYYY-MM-DD)", pid) from None
    if len(_DATES) < 50_000:
        _DATES[text] = found
    return found


def _coded(text: str, allowed, name: str, line: int, pid: str, default: str) -> str:
    value = (text or "").strip().upper() or default
    if value not in allowed:
        raise BadRow(line, f"bad {name} {text!r} (one of {', '.join(allowed)})", pid)
    return value


_RECORD_NAMES = (*CORE_FIELDS, "preferred_language")


def _new_record(line: int, pid: str, first_name: str, middle_name: str, last_name: str, group: str, expiry: str,
                purge: str, status: str, record_type: str, language: str) -> FeedRecord:
    """A record from its stripped core values, in the order of ``_RECORD_NAMES`` (the same for CSV and XML)."""
    if not (last_name and group and expiry):
        for name, value in (("last_name", last_name), ("user_group", group), ("expiry_date", expiry)):
            if not value:
                raise BadRow(line, f"{name} is empty", pid)
    if len(first_name) > 100 or len(middle_name) > 100 or len(last_name) > 100:
        for name, value in (("first_name", first_name), ("middle_name", middle_name), ("last_name", last_name)):
            if len(value) > 100:
                raise BadRow(line, f"{name} is longer than 100 characters", pid)
    core = [first_name, middle_name, last_name, group, parse_date(expiry, "expiry_date", line, pid),
            parse_date(purge, "purge_date", line, pid) if purge else None,
            "ACTIVE" if not status else status if status in STATUSES
            else _coded(status, STATUSES, "status", line, pid, "ACTIVE"),
            "PUBLIC" if not record_type else record_type if record_type in RECORD_TYPES
            else _coded(record_type, RECORD_TYPES, "record_type", line, pid, "PUBLIC")]
    return FeedRecord(line, pid, core, [], [], [], [], [], language)


# --- CSV -------------------------------------------------------------------------------------------------


def _csv_rows(path, encoding: str):
    with open(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding,
                                errors="surrogateescape", newline="")
        reader = csv.reader(text)
        try:
            header = next(reader)
        except StopIteration:
            raise FeedFileError("the file is empty") from None
        yield reader, [h.strip().lower() for h in header]


def read_csv(path, encoding: str = "utf-8"):
    """Yield a ``FeedRecord`` or a ``BadRow`` per data row; raise ``FeedFileError`` for a bad header."""
    for reader, header in _csv_rows(path, encoding):
        if any(_BAD_BYTES.search(h) for h in header):
            raise FeedFileError(f"line 1: the header is not valid {encoding} (wrong encoding?)")
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise FeedFileError(f"missing columns: {', '.join(missing)} (required: {', '.join(REQUIRED_COLUMNS)})")
        width = len(header)
        parse = _csv_parser(header)
        pid_at = header.index("primary_id")
        for row in reader:
            line = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            pid = row[pid_at].strip() if len(row) > pid_at else ""
            if _BAD_BYTES.search("".join(row)):
                yield BadRow(line, f"not valid {encoding} (wrong encoding?)", _BAD_BYTES.sub("?", pid))
                continue
            if len(row) != width:
                yield BadRow(line, f"{len(row)} fields where the header has {width}", pid)
                continue
            if not pid:
                yield BadRow(line, "primary_id is empty")
                continue
            try:
                yield parse(line, row, pid)
            except BadRow as bad:
                yield bad


def _csv_parser(header: list[str]):
    """``parse(line, row, pid) -> FeedRecord`` for rows under ``header``.

    The column positions are looked up once per file; a row's values are stripped
    once and a missing column reads as the empty string after the row's end."""
    index = {name: i for i, name in enumerate(header)}
    at = {name: index.get(name, len(header)) for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)}
    core_of = itemgetter(*(at[name] for name in _RECORD_NAMES))
    barcode_at, univ_at, other_at = at["barcode"], at["univ_id"], at["other_ids"]
    email_at, email_type_at, phone_at, phone_type_at = at["email"], at["email_type"], at["phone"], at["phone_type"]
    address_of = itemgetter(at["address_line1"], at["address_line2"], at["address_line3"], at["city"],
                            at["state_province"], at["postal_code"], at["country"])
    address_type_at, category_at, category_type_at = (at["address_type"], at["statistic_category"],
                                                      at["statistic_category_type"])

    def parse(line: int, row: list[str], pid: str) -> FeedRecord:
        v = [c.strip() for c in row]
        v.append("")
        rec = _new_record(line, pid, *core_of(v))
        identifiers = rec.identifiers
        if v[barcode_at]:
            identifiers.append(("BARCODE", v[barcode_at], "ACTIVE", ""))
        if v[univ_at]:
            identifiers.append(("UNIV_ID", v[univ_at], "ACTIVE", ""))
        if v[other_at]:
            _add_other_ids(identifiers, v[other_at], line, pid)
        if v[email_at]:
            _add_emails(rec.emails, v[email_at], v[email_type_at] or "personal", line, pid)
        if v[phone_at]:
            rec.phones.append((v[phone_at], v[phone_type_at] or "mobile", True, False))
        line1, line2, line3, *place = address_of(v)
        if line1 or line2 or line3 or any(place):
            rec.addresses.append((line1, line2, line3, "", "", *place, v[address_type_at] or "home", True, None, None))
        if v[category_at]:
            rec.statistics.append((v[category_at], v[category_type_at] or "Patron Type"))
        return rec

    return parse


def _add_other_ids(identifiers: list, text: str, line: int, pid: str) -> None:
    """The ``other_ids`` column: ``TYPE=value`` entries separated by ``;``."""
    for part in text.split(";"):
        if part.strip():
            id_type, sep, value = part.partition("=")
            if not sep or not id_type.strip() or not value.strip():
                raise BadRow(line, f"bad other_ids entry {part.strip()!r} (expected TYPE=value)", pid)
            identifiers.append((id_type.strip().upper(), value.strip(), "ACTIVE", ""))


def _add_emails(emails: list, text: str, email_type: str, line: int, pid: str) -> None:
    """The ``email`` column: one address, or several separated by ``;`` (the first preferred)."""
    if ";" not in text and "@" in text:
        emails.append((text, email_type, True))
        return
    for n, address in enumerate(a.strip() for a in text.split(";")):
        if address:
            if "@" not in address:
                raise BadRow(line, f"bad email {address!r}", pid)
            emails.append((address, email_type, n == 0))


# --- Alma user XML -----------------------------------------------------------------------------------------


def _xml_users(path):
    """Yield ``(line, element)`` for each ``users/user``; refuse DTDs and entities (no XML bombs)."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    state = {"depth": 0, "builder": None, "line": 0}
    done = []

    def refuse(*_args):
        raise FeedFileError(f"line {parser.CurrentLineNumber}: DTDs and entities are not accepted in a feed")

    def start(tag, attrs):
        state["depth"] += 1
        if state["depth"] == 1 and tag != "users":
            raise FeedFileError(f"line {parser.CurrentLineNumber}: the root element is <{tag}>, not <users>")
        if state["depth"] == 2 and tag == "user":
            state["builder"], state["line"] = ET.TreeBuilder(), parser.CurrentLineNumber
        if state["builder"] is not None:
            state["builder"].start(tag, attrs)

    def end(tag):
        builder = state["builder"]
        if builder is not None:
            builder.end(tag)
            if state["depth"] == 2:
                done.append((state["line"], builder.close()))
                state["builder"] = None
        state["depth"] -= 1

    def data(text):
        if state["builder"] is not None:
            state["builder"].data(text)

    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, data
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    yield from _parsed_in_chunks(parser, path, done)


def _parsed_in_chunks(parser, path, done: list):
    """Feed the file to ``parser`` a chunk at a time (a large feed is never read whole), yielding what each chunk
    completed: the handlers append it to ``done``."""
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(1 << 16)
            try:
                parser.Parse(chunk, not chunk)
            except expat.ExpatError as exc:
                raise FeedFileError(f"line {exc.lineno} column {exc.offset}: not well-formed XML "
                                    f"({expat.errors.messages[exc.code]}; wrong encoding?)") from None
            yield from done
            done.clear()
            if not chunk:
                break


def _text(element, path: str) -> str:
    found = element.find(path)
    return (found.text or "").strip() if found is not None else ""


def _flag(element, path: str) -> bool:
    return _text(element, path).lower() == "true"


def read_alma_xml(path):
    for line, user in _xml_users(path):
        pid = _text(user, "primary_id")
        if not pid:
            yield BadRow(line, "primary_id is empty")
            continue
        try:
            yield _xml_record(line, user, pid)
        except BadRow as bad:
            yield bad


def _xml_record(line, user, pid) -> FeedRecord:
    rec = _new_record(line, pid, *(_text(user, name) for name in _RECORD_NAMES))
    for ident in user.iterfind("user_identifiers/user_identifier"):
        id_type, value = _text(ident, "id_type"), _text(ident, "value")
        if not id_type or not value:
            raise BadRow(line, "a user_identifier needs id_type and value", pid)
        status = _coded(_text(ident, "status"), STATUSES, "identifier status", line, pid, "ACTIVE")
        rec.identifiers.append((id_type.upper(), value, status, _text(ident, "note")))
    contact = user.find("contact_info")
    if contact is not None:
        for email in contact.iterfind("emails/email"):
            address = _text(email, "email_address")
            if "@" not in address:
                raise BadRow(line, f"bad email {address!r}", pid)
            types = ",".join(t.text.strip() for t in email.iterfind("email_types/email_type") if t.text) or "personal"
            rec.emails.append((address, types, email.get("preferred") == "true" or _flag(email, "preferred")))
        for address in contact.iterfind("addresses/address"):
            types = ",".join(t.text.strip() for t in address.iterfind("address_types/address_type") if t.text)
            rec.addresses.append((*(_text(address, f"line{i}") for i in range(1, 6)), _text(address, "city"),
                                  _text(address, "state_province"), _text(address, "postal_code"),
                                  _text(address, "country"), types or "home",
                                  address.get("preferred") == "true" or _flag(address, "preferred"),
                                  parse_date(_text(address, "start_date"), "address start_date", line, pid),
                                  parse_date(_text(address, "end_date"), "address end_date", line, pid)))
        for phone in contact.iterfind("phones/phone"):
            number = _text(phone, "phone_number")
            if number:
                types = ",".join(t.text.strip() for t in phone.iterfind("phone_types/phone_type") if t.text)
                rec.phones.append((number, types or "mobile",
                                   phone.get("preferred") == "true" or _flag(phone, "preferred"),
                                   phone.get("preferred_sms") == "true" or _flag(phone, "preferred_sms")))
    for stat in user.iterfind("user_statistics/user_statistic"):
        category = _text(stat, "statistic_category")
        if category:
            rec.statistics.append((category, _text(stat, "category_type") or "Patron Type"))
    return rec


def primary_ids(fmt: str, path, encoding: str = "utf-8"):
    """The primary id of each record in the file, cheaply (CSV: one column; XML: a full parse)."""
    if fmt != "csv":
        for item in reader_for(fmt, path, encoding)():
            yield item.primary_id
        return
    for reader, header in _csv_rows(path, encoding):
        if "primary_id" not in header:
            raise FeedFileError(f"missing columns: primary_id (required: {', '.join(REQUIRED_COLUMNS)})")
        at = header.index("primary_id")
        for row in reader:
            if row and not (len(row) == 1 and not row[0].strip()):
                yield row[at].strip() if len(row) > at else ""


def reader_for(fmt: str, path, encoding: str = "utf-8"):
    if fmt == "csv":
        return lambda: read_csv(path, encoding)
    if fmt == "alma-xml":
        return lambda: read_alma_xml(path)
    raise JobRefused(f"unknown format {fmt!r} (csv or alma-xml)")
