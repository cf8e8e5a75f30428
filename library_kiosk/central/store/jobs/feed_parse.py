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
# the core fields beyond the names, group and dates: Alma's preferred names, job description, campus, birth date,
# gender, full name, title and job category (CSV columns of the same names)
EXTRA_FIELDS = ("pref_first_name", "pref_middle_name", "pref_last_name", "job_description", "campus_code",
                "birth_date", "gender", "full_name", "user_title", "job_category")
OPTIONAL_COLUMNS = (
    "first_name", "middle_name", "purge_date", "status", "record_type", "preferred_language",
    "barcode", "univ_id", "other_ids", "email", "email_type", "phone", "phone_type",
    "address_line1", "address_line2", "address_line3", "city", "state_province", "postal_code", "country",
    "address_type", "statistic_category", "statistic_category_type", "statistic_note", "user_group_desc",
    *EXTRA_FIELDS,
)
CORE_FIELDS = ("first_name", "middle_name", "last_name", "user_group", "expiry_date", "purge_date", "status",
               "record_type", *EXTRA_FIELDS)
STATUSES = ("ACTIVE", "INACTIVE")
RECORD_TYPES = ("PUBLIC", "STAFF", "CONTACT")
SEGMENT_TYPES = ("External", "Internal")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})Z?$")
_BAD_BYTES = re.compile("[\udc80-\udcff]")
_NAME_LIMITS = {"first_name": 100, "middle_name": 100, "last_name": 100, "pref_first_name": 100,
                "pref_middle_name": 100, "pref_last_name": 100, "job_description": 200, "campus_code": 40,
                "gender": 20, "full_name": 300, "user_title": 40, "job_category": 60}

# Alma user XML: bounds on what one file may make the parser hold (docs/feed.md). An Alma user is 8 levels deep.
MAX_DEPTH = 32  # nesting levels
MAX_ELEMENT_CHARS = 100_000  # characters of text (or of attribute values) in one element
MAX_USER_ELEMENTS = 10_000  # elements in one <user>
MAX_USER_CHARS = 2_000_000  # characters of text in one <user>


class BadRow(Exception):
    def __init__(self, line: int, reason: str, primary_id: str = ""):
        super().__init__(reason)
        self.line, self.reason, self.primary_id = line, reason, primary_id


class FeedFileError(Exception):
    """The file as a whole cannot be read (missing columns, not well-formed XML)."""


@dataclass(slots=True)
class FeedWarning:
    """Something in the file the feed does not read (an unknown element), reported once per name; loads go on."""
    line: int
    message: str
    primary_id: str = ""


@dataclass(slots=True)
class FeedRecord:
    line: int
    primary_id: str
    core: list  # the values of CORE_FIELDS, in that order
    identifiers: list = field(default_factory=list)  # (id_type, value, status, note)
    emails: list = field(default_factory=list)
    addresses: list = field(default_factory=list)
    phones: list = field(default_factory=list)
    statistics: list = field(default_factory=list)  # (statistic_category, category_type, statistic_note)
    notes: list = field(default_factory=list)  # (note_type, note_text, user_viewable, popup_note)
    blocks: list = field(default_factory=list)  # (block_type, block_description, block_status, expiry_date)
    roles: list = field(default_factory=list)  # (role_type, scope, status)
    preferred_language: str = ""
    internal: dict | None = None  # segment name -> rows the file marks segment_type="Internal" (see feed_validate)
    group_description: str = ""  # the file's description of its user group (Alma: user_group desc=)


_DATES: dict[str, dt.date] = {}  # the same few dates repeat across a feed


def parse_date(text: str, name: str, line: int, pid: str = "") -> dt.date | None:
    text = (text or "").strip()
    if not text:
        return None
    found = _DATES.get(text)
    if found is not None:
        return found
    match = _DATE.match(text)
    if not match:
        raise BadRow(line, f"bad {name} {text!r} (expected YYYY-MM-DD)", pid)
    try:
        found = dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        raise BadRow(line, f"bad {name} {text!r} (no such date: {exc})", pid) from None
    if len(_DATES) < 50_000:
        _DATES[text] = found
    return found


def _coded(text: str, allowed, name: str, line: int, pid: str, default: str) -> str:
    value = (text or "").strip().upper() or default
    if value not in allowed:
        raise BadRow(line, f"bad {name} {text!r} (one of {', '.join(allowed)})", pid)
    return value


_RECORD_NAMES = (*CORE_FIELDS[:8], "preferred_language", *EXTRA_FIELDS)


def _new_record(line: int, pid: str, first_name: str, middle_name: str, last_name: str, group: str, expiry: str,
                purge: str, status: str, record_type: str, language: str, *extra: str) -> FeedRecord:
    """A record from its stripped core values, in the order of ``_RECORD_NAMES`` (the same for CSV and XML)."""
    if not (last_name and group and expiry):
        for name, value in (("last_name", last_name), ("user_group", group), ("expiry_date", expiry)):
            if not value:
                raise BadRow(line, f"{name} is empty", pid)
    if len(first_name) > 100 or len(middle_name) > 100 or len(last_name) > 100 or any(len(v) > 20 for v in extra):
        values = dict(zip(_RECORD_NAMES, (first_name, middle_name, last_name, group, expiry, purge, status,
                                          record_type, language, *extra)))
        for name, limit in _NAME_LIMITS.items():
            if len(values.get(name) or "") > limit:
                raise BadRow(line, f"{name} is longer than {limit} characters", pid)
    pref_first, pref_middle, pref_last, job, campus, birth, gender, full_name, title, category = extra or ("",) * 10
    core = [first_name, middle_name, last_name, group, parse_date(expiry, "expiry_date", line, pid),
            parse_date(purge, "purge_date", line, pid) if purge else None,
            "ACTIVE" if not status else status if status in STATUSES
            else _coded(status, STATUSES, "status", line, pid, "ACTIVE"),
            "PUBLIC" if not record_type else record_type if record_type in RECORD_TYPES
            else _coded(record_type, RECORD_TYPES, "record_type", line, pid, "PUBLIC"),
            pref_first, pref_middle, pref_last, job, campus,
            parse_date(birth, "birth_date", line, pid) if birth else None, gender, full_name, title, category]
    return FeedRecord(line, pid, core, [], [], [], [], [], [], [], [], language)


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
        known = {*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS}
        for name in dict.fromkeys(h for h in header if h not in known):
            yield FeedWarning(1, f"unknown column {name!r} ignored (not a feed column: docs/feed.md)")
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
    stat_note_at, group_desc_at = at["statistic_note"], at["user_group_desc"]

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
            rec.statistics.append((v[category_at], v[category_type_at] or "Patron Type", v[stat_note_at]))
        rec.group_description = v[group_desc_at]
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

# Every element name of Alma's user record (at any depth below <user>): another name is reported as a warning,
# once per name. Those the feed does not store (pin_number, loans, fees, ...) are known and pass silently.
_ALMA_NAMES = """
    record_type primary_id first_name middle_name last_name full_name pin_number user_title job_category
    job_description gender user_group campus_code web_site_url cataloger_level preferred_language birth_date
    expiry_date purge_date account_type external_id password force_password_change status status_date requests
    loans fees contact_info pref_first_name pref_middle_name pref_last_name pref_name_suffix is_researcher
    researcher user_identifiers user_identifier id_type value note user_roles user_role scope role_type parameters
    parameter type user_blocks user_block block_type block_description block_status block_note created_by
    created_date expiry_date user_notes user_note note_type note_text user_viewable popup_note user_statistics
    user_statistic statistic_category category_type statistic_note proxy_for_users proxy_for_user rs_libraries
    rs_library code library_notices library_notice linking_id source_link_id source_institution_code
    last_patron_activity_date addresses address line1 line2 line3 line4 line5 city state_province postal_code
    country address_note start_date end_date address_types address_type emails email email_address description
    email_types email_type phones phone phone_number phone_types phone_type
"""
ALMA_ELEMENTS = frozenset(_ALMA_NAMES.split())


def _xml_error(exc: expat.ExpatError, chunk: bytes) -> str:
    """An expat error in a few words: "line 3 column 7: not well-formed XML: invalid token", with "wrong
    encoding?" only when the bytes read are not UTF-8 (or expat says the encoding is wrong)."""
    message = expat.errors.messages[exc.code]
    inner = re.fullmatch(r"not well-formed \((.*)\)", message)
    message = inner[1] if inner else message
    text = f"line {exc.lineno} column {exc.offset + 1}: not well-formed XML: {message}"
    if message in (expat.errors.XML_ERROR_UNKNOWN_ENCODING, expat.errors.XML_ERROR_INCORRECT_ENCODING):
        return text + " (wrong encoding?)"
    if message == "invalid token" and not _utf8(chunk):
        return text + " (the file is not valid UTF-8: wrong encoding?)"
    return text


def _utf8(chunk: bytes) -> bool:
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.reason == "unexpected end of data"  # a character cut by the chunk's end
    return True


def _xml_users(path):
    """Yield ``(line, element)`` for each ``users/user``, and a ``FeedWarning`` for each element name Alma does not
    have (once per name); refuse DTDs and entities (no XML bombs), and elements nested or sized beyond the
    limits (MAX_DEPTH, MAX_ELEMENT_CHARS, MAX_USER_ELEMENTS, MAX_USER_CHARS): memory stays bounded by one user."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    users = _UserBuilder(parser)
    parser.StartElementHandler, parser.EndElementHandler = users.start, users.end
    parser.CharacterDataHandler = users.data
    parser.StartDoctypeDeclHandler = users.refuse
    parser.EntityDeclHandler = users.refuse
    yield from _parsed_in_chunks(parser, path, users.done)


class _UserBuilder:
    """expat's handlers for ``_xml_users``: one ``<user>`` at a time as an element tree, within the limits."""

    def __init__(self, parser):
        self.parser = parser
        self.depth, self.builder, self.line, self.elements, self.chars, self.text = 0, None, 0, 0, 0, 0
        self.warned: set[str] = set()
        self.done: list = []  # completed (line, user) and warnings, taken by _parsed_in_chunks

    def refuse(self, *_args):
        raise FeedFileError(f"line {self.parser.CurrentLineNumber}: DTDs and entities are not accepted in a feed")

    def too_much(self, what: str):
        raise FeedFileError(f"line {self.parser.CurrentLineNumber}: {what}; nothing was loaded")

    def start(self, tag, attrs):
        self.depth += 1
        if self.depth == 1 and tag != "users":
            raise FeedFileError(f"line {self.parser.CurrentLineNumber}: the root element is <{tag}>, not <users>")
        if self.depth > MAX_DEPTH:
            self.too_much(f"elements nested more than {MAX_DEPTH} deep (an Alma user is 8 levels deep)")
        if self.depth == 2 and tag == "user":
            self.builder, self.line, self.elements, self.chars = ET.TreeBuilder(), self.parser.CurrentLineNumber, 0, 0
        self.text = 0
        if self.builder is not None:
            self.elements += 1
            if self.elements > MAX_USER_ELEMENTS:
                self.too_much(f"a <user> (from line {self.line}) has more than {MAX_USER_ELEMENTS:,} elements")
            if attrs and sum(len(v) for v in attrs.values()) > MAX_ELEMENT_CHARS:
                self.too_much(f"the attributes of <{tag}> are longer than {MAX_ELEMENT_CHARS:,} characters")
            if self.depth > 2 and tag not in ALMA_ELEMENTS and tag not in self.warned:
                self.warned.add(tag)
                self.done.append(FeedWarning(self.parser.CurrentLineNumber, f"unknown element <{tag}> ignored "
                                             f"(not in Alma's user record; reported once)"))
            self.builder.start(tag, attrs)

    def end(self, tag):
        if self.builder is not None:
            self.builder.end(tag)
            if self.depth == 2:
                self.done.append((self.line, self.builder.close()))
                self.builder = None
        self.depth -= 1
        self.text = 0

    def data(self, text):
        if self.builder is not None:
            self.text += len(text)
            self.chars += len(text)
            if self.text > MAX_ELEMENT_CHARS:
                self.too_much(f"an element's text is longer than {MAX_ELEMENT_CHARS:,} characters")
            if self.chars > MAX_USER_CHARS:
                self.too_much(f"a <user> (from line {self.line}) holds more than {MAX_USER_CHARS:,} characters")
            self.builder.data(text)


def _parsed_in_chunks(parser, path, done: list):
    """Feed the file to ``parser`` a chunk at a time (a large feed is never read whole), yielding what each chunk
    completed: the handlers append it to ``done``."""
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(1 << 16)
            try:
                parser.Parse(chunk, not chunk)
            except expat.ExpatError as exc:
                raise FeedFileError(_xml_error(exc, chunk)) from None
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
    for item in _xml_users(path):
        if isinstance(item, FeedWarning):
            yield item
            continue
        line, user = item
        pid = _text(user, "primary_id")
        if not pid:
            yield BadRow(line, "primary_id is empty")
            continue
        try:
            yield _xml_record(line, user, pid)
        except BadRow as bad:
            yield bad


def _segment(rec: FeedRecord, name: str, element, row: tuple) -> None:
    """Add a segment row to the record: External (the default) to its list, Internal to ``rec.internal``."""
    if element.get("segment_type", "External") == "Internal":
        if rec.internal is None:
            rec.internal = {}
        rec.internal.setdefault(name, []).append(row)
    else:
        getattr(rec, name).append(row)


def _short(value: str, limit: int, name: str, line: int, pid: str) -> str:
    """``value`` if it fits its column (PostgreSQL refuses a longer one), else the row is rejected."""
    if len(value) > limit:
        raise BadRow(line, f"{name} is longer than {limit} characters", pid)
    return value


def _types(element, path: str) -> str:
    return ",".join(t.text.strip() for t in element.iterfind(path) if t.text and t.text.strip())


def _xml_record(line, user, pid) -> FeedRecord:
    rec = _new_record(line, pid, *(_text(user, name) for name in _RECORD_NAMES))
    group = user.find("user_group")
    rec.group_description = (group.get("desc") or "").strip() if group is not None else ""
    for element in user.iter():
        kind = element.get("segment_type")
        if kind is not None and kind not in SEGMENT_TYPES:
            raise BadRow(line, f"bad segment_type {kind!r} on <{element.tag}> (External or Internal)", pid)
    for ident in user.iterfind("user_identifiers/user_identifier"):
        id_type, value = _text(ident, "id_type"), _text(ident, "value")
        if not id_type or not value:
            raise BadRow(line, "a user_identifier needs id_type and value", pid)
        status = _coded(_text(ident, "status"), STATUSES, "identifier status", line, pid, "ACTIVE")
        _segment(rec, "identifiers", ident, (id_type.upper(), value, status, _text(ident, "note")))
    contact = user.find("contact_info")
    if contact is not None:
        _xml_contact(rec, contact, line, pid)
    for stat in user.iterfind("user_statistics/user_statistic"):
        category = _text(stat, "statistic_category")
        if category:
            _segment(rec, "statistics", stat, (_short(category, 60, "statistic_category", line, pid),
                                               _short(_text(stat, "category_type") or "Patron Type", 60,
                                                      "category_type", line, pid),
                                               _short(_text(stat, "statistic_note"), 200, "statistic_note", line, pid)))
    _xml_notes_blocks_roles(rec, user, line, pid)
    return rec


def _xml_notes_blocks_roles(rec: FeedRecord, user, line: int, pid: str) -> None:
    for note in user.iterfind("user_notes/user_note"):
        note_text = _text(note, "note_text")
        if note_text:
            note_type = _short((_text(note, "note_type") or "OTHER").upper(), 20, "note_type", line, pid)
            _segment(rec, "notes", note, (note_type, note_text,
                                          _flag(note, "user_viewable"), _flag(note, "popup_note")))
    for block in user.iterfind("user_blocks/user_block"):
        block_type = _text(block, "block_type")
        if block_type:
            found = block.find("block_description")  # Alma: a code, its words in desc= (what the kiosk shows)
            description = ((found.get("desc") or "").strip() if found is not None else "") or _text(
                block, "block_description") or block_type
            status = _coded(_text(block, "block_status"), STATUSES, "block_status", line, pid, "ACTIVE")
            _segment(rec, "blocks", block, (_short(block_type, 40, "block_type", line, pid),
                                            _short(description, 300, "block_description", line, pid), status,
                                            parse_date(_text(block, "expiry_date"), "block expiry_date", line, pid)))
    for role in user.iterfind("user_roles/user_role"):
        role_type = _text(role, "role_type")
        if role_type:
            status = _coded(_text(role, "status"), STATUSES, "role status", line, pid, "ACTIVE")
            _segment(rec, "roles", role, (_short(role_type, 40, "role_type", line, pid),
                                          _short(_text(role, "scope"), 60, "role scope", line, pid), status))


def _xml_contact(rec: FeedRecord, contact, line: int, pid: str) -> None:
    for email in contact.iterfind("emails/email"):
        address = _text(email, "email_address")
        if "@" not in address:
            raise BadRow(line, f"bad email {address!r}", pid)
        _segment(rec, "emails", email, (address, _types(email, "email_types/email_type") or "personal",
                                        email.get("preferred") == "true" or _flag(email, "preferred")))
    for address in contact.iterfind("addresses/address"):
        _segment(rec, "addresses", address, (
            *(_text(address, f"line{i}") for i in range(1, 6)), _text(address, "city"),
            _text(address, "state_province"), _text(address, "postal_code"), _text(address, "country"),
            _types(address, "address_types/address_type") or "home",
            address.get("preferred") == "true" or _flag(address, "preferred"),
            parse_date(_text(address, "start_date"), "address start_date", line, pid),
            parse_date(_text(address, "end_date"), "address end_date", line, pid)))
    for phone in contact.iterfind("phones/phone"):
        number = _text(phone, "phone_number")
        if number:
            _segment(rec, "phones", phone, (number, _types(phone, "phone_types/phone_type") or "mobile",
                                            phone.get("preferred") == "true" or _flag(phone, "preferred"),
                                            phone.get("preferred_sms") == "true" or _flag(phone, "preferred_sms")))


def primary_ids(fmt: str, path, encoding: str = "utf-8"):
    """The primary id of each record in the file, cheaply (CSV: one column; XML: a full parse)."""
    if fmt != "csv":
        for item in reader_for(fmt, path, encoding)():
            if not isinstance(item, FeedWarning):
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
