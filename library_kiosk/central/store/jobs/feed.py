"""The patron feed: load external records from the systems that own them.

Formats: CSV with the column mapping documented in ``docs/feed.md``, and Alma's
user XML (``<users><user>...</user></users>``, the SIS synchronisation shape).

Rules (see docs/feed.md):
- a record not in the store is created EXTERNAL with ``external_id`` = the source;
- an existing EXTERNAL record of the same source is updated: the core fields the
  feed owns are replaced, its External segments (identifiers, emails, addresses,
  phones, statistics) are replaced by the file's, its Internal segments are kept;
- a record owned by another source, or an INTERNAL record, is not touched (rejected);
- a full feed (``full=True``) deactivates the source's ACTIVE records missing from
  the file: status INACTIVE, purge date today + ``missing_purge_days``; if that
  would deactivate more than ``max_deactivate_share`` of the source's active
  records, the job is refused before anything changes;
- a bad row is rejected with its line and reason, the rest load;
- an identifier a record's row no longer sends is free for the other rows of the same file, whatever the row
  order (moves, swaps, rotations): the row taking it waits for the row letting it go (same batch, same
  transaction; else deferred to the end of the file); an identifier on two rows, or held by a record the feed
  does not release it from (INTERNAL, another source, not in the file, its row rejected, an Internal segment),
  rejects the row, naming the holder;
- loading the same file twice changes nothing the second time (no Change rows);
- then, as a separate phase ("Preparing kiosk documents: n of m"), the kiosk documents of
  the records created, updated or deactivated are built in the sync read model
  (``library_kiosk.central.store.documents.refresh_patrons``), so the first kiosk sync streams them.

The loader works in batches: one bulk select of the batch's existing records,
one of their External segments, one of the identifiers claimed, then bulk
inserts/updates and the batch's Change rows in one transaction. Rows deferred
(waiting for an identifier a later row releases) are loaded as one last batch.
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

import peewee as pw

from library_kiosk.central.store import bulk, changes
from library_kiosk.central.store.db import database, is_postgres
from library_kiosk.central.store.jobs.common import paused_gc, refresh_documents
from library_kiosk.central.store.jobs.report import (
    DOCUMENTS_PHASE,
    JobRefused,
    JobReport,
    Progress,
    phase_progress,
    run_job,
)
from library_kiosk.central.store.models import (
    Address,
    Change,
    Email,
    Identifier,
    Phone,
    Statistic,
    User,
    UserGroup,
    _now,
)
from library_kiosk.domain.codes import SOURCE_SYSTEMS

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
# Segments the feed owns, with the columns compared and written (all but user and segment_type).
SEGMENTS = {
    "identifiers": (Identifier, ("id_type", "value", "status", "note")),
    "emails": (Email, ("email_address", "email_types", "preferred")),
    "addresses": (Address, ("line1", "line2", "line3", "line4", "line5", "city", "state_province", "postal_code",
                            "country", "address_types", "preferred", "start_date", "end_date")),
    "phones": (Phone, ("phone_number", "phone_types", "preferred", "preferred_sms")),
    "statistics": (Statistic, ("statistic_category", "category_type")),
}
assert tuple(SEGMENTS) == ("identifiers", "emails", "addresses", "phones", "statistics")  # _Loader._write's order
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
_GROUP_AT = CORE_FIELDS.index("user_group")


def _record(line: int, values: dict, pid: str) -> FeedRecord:
    """A record from the named values (the same names for CSV and XML; missing means empty)."""
    get = values.get
    return _new_record(line, pid, *((get(name) or "").strip() for name in _RECORD_NAMES))


def _new_record(line: int, pid: str, first_name: str, middle_name: str, last_name: str, group: str, expiry: str,
                purge: str, status: str, record_type: str, language: str) -> FeedRecord:
    """A record from its stripped core values, in the order of ``_RECORD_NAMES``."""
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
            for part in v[other_at].split(";"):
                if part.strip():
                    id_type, sep, value = part.partition("=")
                    if not sep or not id_type.strip() or not value.strip():
                        raise BadRow(line, f"bad other_ids entry {part.strip()!r} (expected TYPE=value)", pid)
                    identifiers.append((id_type.strip().upper(), value.strip(), "ACTIVE", ""))
        emails = v[email_at]
        if emails:
            email_type = v[email_type_at] or "personal"
            if ";" not in emails and "@" in emails:
                rec.emails.append((emails, email_type, True))
            else:
                for n, address in enumerate(a.strip() for a in emails.split(";")):
                    if address:
                        if "@" not in address:
                            raise BadRow(line, f"bad email {address!r}", pid)
                        rec.emails.append((address, email_type, n == 0))
        if v[phone_at]:
            rec.phones.append((v[phone_at], v[phone_type_at] or "mobile", True, False))
        line1, line2, line3, *place = address_of(v)
        if line1 or line2 or line3 or any(place):
            rec.addresses.append((line1, line2, line3, "", "", *place, v[address_type_at] or "home", True, None, None))
        if v[category_at]:
            rec.statistics.append((v[category_at], v[category_type_at] or "Patron Type"))
        return rec

    return parse


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
    rec = _record(line, {name: _text(user, name) for name in _RECORD_NAMES}, pid)
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


# --- loading -----------------------------------------------------------------------------------------------


def _norm(value) -> str:
    if type(value) is str:  # most values: as they are
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    return str(value)


def _canon(rows) -> list:
    return sorted(tuple(_norm(v) for v in row) for row in rows)


def resolve_group(code: str, mapping: dict, groups: set) -> str | None:
    """The user group for a code in the file: through the ``[feed] user_groups`` mapping, else as is."""
    target = mapping.get(code, code)
    return target if target in groups else None


def load_feed(path, *, fmt: str, source: str, operator: str, today: dt.date, full: bool = False,
              dry_run: bool = False, group_mapping: dict | None = None, missing_purge_days: int = 90,
              max_deactivate_share: float = 0.10, encoding: str = "utf-8", batch_size: int = 1000,
              progress: Progress | None = None, documents: bool = True) -> JobReport:
    """Load a feed file; returns the job report (counts: created, updated, unchanged, rejected, deactivated, and
    for a real run documents_prepared). ``progress(done, total)`` counts the file's records, then (a real run,
    ``documents``) the kiosk documents of the records changed, as the phase ``DOCUMENTS_PHASE`` (passed as a
    third argument if ``progress`` takes one)."""
    parameters = {"file": str(path), "format": fmt, "source": source, "full": full, "encoding": encoding,
                  "missing_purge_days": missing_purge_days, "max_deactivate_share": max_deactivate_share}

    def body(report: JobReport) -> None:
        loader = _Loader(report, source, today, dict(group_mapping or {}), dry_run, batch_size)
        if source not in SOURCE_SYSTEMS:
            raise JobRefused(f"unknown source {source!r} (one of {', '.join(SOURCE_SYSTEMS)})")
        read = reader_for(fmt, path, encoding)
        for key in ("created", "updated", "unchanged", "rejected", "deactivated"):
            report.counts[key] = 0
        try:
            seen, total = set(), 0
            for pid in primary_ids(fmt, path, encoding):  # first pass: what the file holds, before any change
                total += 1
                if pid:
                    seen.add(pid)
            loader.seen = seen
            missing = loader.missing_records(seen) if full else []
            if full and missing:
                active = User.select().where((User.account_type == "EXTERNAL") & (User.external_id == source)
                                             & (User.status == "ACTIVE")).count()
                share = len(missing) / active
                if share > max_deactivate_share:
                    raise JobRefused(
                        f"the feed would deactivate {len(missing):,} of {active:,} active {source} records "
                        f"({share:.1%}, more than the {max_deactivate_share:.0%} allowed); nothing was changed")
            done = 0
            batch = []
            with paused_gc():
                for item in read():
                    loader.take(item, batch)
                    if len(batch) >= batch_size:
                        loader.flush(batch)
                        batch = []
                    done += 1
                    if progress and done % batch_size == 0:
                        progress(done, total)
                loader.flush(batch)
                loader.finish()
            if progress:
                progress(total, total)
        except FeedFileError as exc:
            raise JobRefused(f"{path}: {exc}") from None
        if full:
            loader.deactivate(missing, missing_purge_days)
        if documents and not dry_run:  # the records are committed: the kiosks' documents, ahead of their sync
            prepared = refresh_documents(loader.written, phase_progress(progress, DOCUMENTS_PHASE))
            report.counts["documents_prepared"] = prepared or 0
            if prepared is None:
                report.message = "kiosk documents not prepared (database busy); the first kiosk sync builds them"

    return run_job("feed", parameters, operator, dry_run, body)


class _Loader:
    def __init__(self, report: JobReport, source: str, today: dt.date, mapping: dict, dry_run: bool,
                 batch_size: int):
        self.report, self.source, self.today, self.mapping, self.dry_run = report, source, today, mapping, dry_run
        self.batch_size = batch_size
        self.groups = {g for (g,) in UserGroup.select(UserGroup.code).tuples()}
        self.lines = {}  # primary id -> line, for duplicates in the file
        self.claimed = {}  # (id_type, value) -> (line, primary id), for identifiers shared across records
        self.written = []  # primary ids created, updated or deactivated (committed), for the kiosk documents
        self.seen: set = set()  # the file's primary ids (load_feed's first pass): the records this feed updates
        self.deferred = []  # rows waiting for an identifier another row of the file releases (see flush)
        self.dropped = set()  # lines of taken rows rejected later (another row's identifier), skipped by flush
        self.failed = set()  # lines of rejected rows
        self.bad = {}  # primary id -> line of its first row rejected while read (not in self.lines)
        self.released = {}  # dry runs: (id_type, value) -> user id, identifiers let go by rows counted as updated

    def reject(self, line: int, pid: str, reason: str) -> None:
        self.failed.add(line)
        self.report.add("rejected", {"line": line, "primary_id": pid, "reason": reason})

    def take(self, item, batch: list) -> None:
        if isinstance(item, BadRow):
            self.reject(item.line, item.primary_id, item.reason)
            if item.primary_id:
                self.bad.setdefault(item.primary_id, item.line)
            return
        rec: FeedRecord = item
        if rec.primary_id in self.lines:
            self.reject(rec.line, rec.primary_id, f"primary_id also on line {self.lines[rec.primary_id]}")
            return
        self.lines[rec.primary_id] = rec.line
        code = rec.core[_GROUP_AT]
        group = resolve_group(code, self.mapping, self.groups)
        if group is None:
            self.reject(rec.line, rec.primary_id, f"unknown user group {code!r}")
            return
        rec.core[_GROUP_AT] = group
        keys = [(t, v) for t, v, _s, _n in rec.identifiers]
        if len(keys) > 1 and len(set(keys)) != len(keys):
            self.reject(rec.line, rec.primary_id, "the same identifier twice in one record")
            return
        claimed = self.claimed
        for key in keys:
            if key in claimed:
                line, other = claimed[key]
                if not self._holder_wins(rec, key, line, other, batch):
                    self.reject(rec.line, rec.primary_id,
                                f"identifier {key[0]} {key[1]} is also on line {line} (primary_id {other})")
                    return
        mark = (rec.line, rec.primary_id)
        for key in keys:
            claimed[key] = mark
        batch.append(rec)

    def _holder_wins(self, rec: FeedRecord, key: tuple, line: int, other: str, batch: list) -> bool:
        """Two rows claim ``key``: if ``rec``'s record holds it in the store, ``rec`` keeps it and the earlier row
        (which cannot have been written: it waits for the holder, see flush) is rejected, whatever the order."""
        holder = (User.select(User.primary_id).join(Identifier)
                  .where((Identifier.id_type == key[0]) & (Identifier.value == key[1])).scalar())
        if holder != rec.primary_id:
            return False
        earlier = next((r for r in (*batch, *self.deferred) if r.line == line and r.primary_id == other), None)
        if earlier is None or line in self.dropped:  # already rejected for another reason: its claim is void
            return earlier is None and line in self.failed
        self.dropped.add(line)
        self.reject(line, other, f"identifier {key[0]} {key[1]} is also on line {rec.line} "
                                 f"(primary_id {rec.primary_id}, the record that holds it)")
        mark = (line, other)
        for ident in earlier.identifiers:  # its other claims are free again
            if self.claimed.get(ident[:2]) == mark:
                del self.claimed[ident[:2]]
        return True

    def missing_records(self, seen: set) -> list[tuple[int, str]]:
        rows = (User.select(User.id, User.primary_id)
                .where((User.account_type == "EXTERNAL") & (User.external_id == self.source)
                       & (User.status == "ACTIVE")).tuples())
        return [(uid, pid) for uid, pid in rows if pid not in seen]

    # one batch: classify with three bulk selects, then write in one transaction
    def flush(self, batch: list[FeedRecord], final: bool = False) -> None:
        """Load one batch. A row taking an identifier that another record of this feed holds and releases (its row
        no longer sends it) waits for that row: in the same batch they are written in one transaction (the
        releases are deleted before anything is inserted); otherwise the row is deferred to ``finish``. With
        ``final`` nothing is deferred: an identifier still held by a record outside the batch is a conflict."""
        if self.dropped:
            batch = [r for r in batch if r.line not in self.dropped]
        if not batch:
            return
        existing = {}
        for row in bulk.select_in(User, ["id", "primary_id", "account_type", "external_id", "preferred_language",
                                         *CORE_FIELDS], "primary_id", [r.primary_id for r in batch]):
            existing[row[1]] = row
        held = {}
        values = [v for r in batch for _t, v, _s, _n in r.identifiers]
        for id_type, value, uid, segment in bulk.select_in(Identifier, ["id_type", "value", "user", "segment_type"],
                                                           "value", values):
            held[(id_type, value)] = (uid, segment)
        if self.released:  # a dry run: what earlier rows let go (not written) is free
            held = {key: owner for key, owner in held.items() if self.released.get(key) != owner[0]}
        current = self._external_segments([row[0] for row in existing.values()])
        new, changed = [], []
        waits_of, owners = {}, None  # line -> (rec, [(key, holder's user id)]): rows taking released identifiers
        for rec in batch:
            row = existing.get(rec.primary_id)
            uid = row[0] if row else None
            if row and row[2] != "EXTERNAL":
                self.reject(rec.line, rec.primary_id, "an INTERNAL record with this primary_id exists (not fed)")
                continue
            if row and row[3] != self.source:
                self.reject(rec.line, rec.primary_id, f"the record belongs to source {row[3] or '(none)'}")
                continue
            if held:  # (none of the batch's identifiers in the store, as in a first load: nothing to check)
                kept, conflict, waits = [], None, None
                for ident in rec.identifiers:
                    owner = held.get(ident[:2])
                    if owner is None or (owner[0] == uid and owner[1] == "External"):
                        kept.append(ident)
                    elif owner[0] == uid:  # the record holds it as an Internal segment: staff's copy stays
                        continue
                    else:  # another record's: free only if that record's row in this feed lets it go
                        if owners is None:
                            owners = self._owners(held, existing)
                        why = self._kept_by(owner, owners)  # (a holder in this batch: _settle decides)
                        if why:
                            conflict = (ident, why)
                            break
                        kept.append(ident)
                        waits = waits or []
                        waits.append((ident[:2], owner[0]))
                if conflict:
                    (id_type, value, *_rest), why = conflict
                    self.reject(rec.line, rec.primary_id,
                                f"identifier {id_type} {value} belongs to another record ({why})")
                    continue
                rec.identifiers = kept
                if waits:
                    waits_of[rec.line] = (rec, waits)
            if row is None:
                new.append(rec)
                continue
            core_diff = any(_norm(ours) != _norm(theirs) for ours, theirs in zip(row[5:], rec.core))
            if rec.preferred_language and rec.preferred_language != row[4]:
                core_diff = True  # the file names a language: it replaces ours
            rec.preferred_language = rec.preferred_language or row[4]  # none named: staff's choice stays
            mine = current.get(uid, {})
            seg_diff = [name for name in SEGMENTS if _canon(getattr(rec, name)) != mine.get(name, [])]
            if core_diff or seg_diff:
                changed.append((uid, rec, core_diff, seg_diff))
            else:
                self.report.count("unchanged")
        if waits_of:
            new, changed = self._settle(waits_of, new, changed, existing, owners, final)
        if self.dry_run:
            for uid, rec, _c, seg_diff in changed:  # what these rows let go is free for the rows after them
                if "identifiers" in seg_diff:
                    sent = {ident[:2] for ident in rec.identifiers}
                    for id_type, value, *_rest in current.get(uid, {}).get("identifiers", []):
                        if (id_type, value) not in sent:
                            self.released[(id_type, value)] = uid
            self.report.add_all("created", [rec.primary_id for rec in new])
            self.report.add_all("updated", [rec.primary_id for _uid, rec, _c, _s in changed])
            return
        try:
            with database.atomic():
                self._write(new, changed)
        except pw.IntegrityError:
            # Something the checks did not foresee (a concurrent writer, a constraint): find the row record by
            # record, again while some succeed (a record may wait for another's release).
            items = [([rec], []) for rec in new] + [([], [item]) for item in changed]
            while items:
                failed = [item for item in items if not self._write_alone(*item, last=False)]
                if len(failed) == len(items):
                    for item in failed:
                        self._write_alone(*item)
                    break
                items = failed
            return
        created, updated = [rec.primary_id for rec in new], [rec.primary_id for _uid, rec, _c, _s in changed]
        self.report.add_all("created", created)
        self.report.add_all("updated", updated)
        self.written += created
        self.written += updated

    def finish(self) -> None:
        """Load the deferred rows, all in one batch: what they wait for is written (or rejected) by now, and the
        rows waiting for each other (a rotation of identifiers) are written together."""
        deferred, self.deferred = self.deferred, []
        self.flush(deferred, final=True)

    def _owners(self, held: dict, existing: dict) -> dict:
        """User id -> (primary_id, account_type, external_id) of the holders of the batch's identifiers."""
        owners = {row[0]: (row[1], row[2], row[3]) for row in existing.values()}
        others = list({uid for uid, _segment in held.values() if uid not in owners})
        for uid, pid, account_type, source in bulk.select_in(User, ["id", "primary_id", "account_type",
                                                                    "external_id"], "id", others):
            owners[uid] = (pid, account_type, source)
        return owners

    def _kept_by(self, owner: tuple, owners: dict, final: bool = False) -> str:
        """Why the holder keeps an identifier whatever this feed says ('' if its row in this feed may let it go;
        ``final``: its row is done, written or rejected)."""
        uid, segment = owner
        pid, account_type, source = owners.get(uid, ("?", "", ""))
        if account_type != "EXTERNAL":
            return f"primary_id {pid}, an INTERNAL record the feed does not update"
        if segment != "External":
            return f"primary_id {pid}, added by the library (Internal), kept by the feed"
        if source != self.source:
            return f"primary_id {pid}, a record of source {source or '(none)'}"
        if pid not in self.seen:
            return f"primary_id {pid}, not in this feed"
        line = self.lines.get(pid)
        if line is None and final:
            line = self.bad.get(pid)  # (before the end, a good row of that primary id may come)
        if line in self.failed or (final and line is None):
            return f"primary_id {pid}, whose row " + (f"on line {line} " if line else "in this feed ") + "is rejected"
        return f"primary_id {pid}, whose row on line {line} keeps it" if final else ""

    def _settle(self, waits_of: dict, new: list, changed: list, existing: dict, owners: dict, final: bool):
        """Decide the rows that take identifiers other records release: a row goes ahead when every holder's row
        is written in the same batch (and goes ahead itself); it waits (deferred) for a holder elsewhere in the
        file, and is rejected when the holder keeps it."""
        releasing = {uid: rec.line for uid, rec, _c, seg_diff in changed if "identifiers" in seg_diff}
        in_batch = {row[0] for row in existing.values()}
        verdict = {}  # line -> None (deferred) or (key, holder) (rejected); undecided lines go ahead
        moved = True
        while moved:
            moved = False
            for line, (_rec, waits) in waits_of.items():
                if line in verdict:
                    continue
                for key, holder in waits:
                    at = releasing.get(holder)
                    if at is None:  # the holder's row is not in this batch, or not written
                        decided = (key, holder) if final or holder in in_batch else None
                    elif at in verdict:  # the holder's row waits itself, or is rejected
                        decided = None if verdict[at] is None and not final else (key, holder)
                    else:
                        continue
                    verdict[line] = decided
                    moved = True
                    break
        if not verdict:
            return new, changed
        for line, decided in sorted(verdict.items()):
            rec = waits_of[line][0]
            if decided is None:
                self.deferred.append(rec)
                continue
            (id_type, value), holder = decided
            pid = owners.get(holder, ("?",))[0]
            why = self._kept_by((holder, "External"), owners, True) if holder not in releasing else (
                f"primary_id {pid}, whose row on line {releasing[holder]} is rejected")
            self.reject(rec.line, rec.primary_id, f"identifier {id_type} {value} belongs to another record ({why})")
        new = [rec for rec in new if rec.line not in verdict]
        changed = [item for item in changed if item[1].line not in verdict]
        return new, changed

    def _write_alone(self, new, changed, last: bool = True) -> bool:
        rec = new[0] if new else changed[0][1]
        try:
            with database.atomic():
                self._write(new, changed)
        except pw.IntegrityError as exc:
            if last:
                self.reject(rec.line, rec.primary_id,
                            f"the database refused the record: {str(exc).splitlines()[0]}")
            return False
        self.report.add("created" if new else "updated", rec.primary_id)
        self.written.append(rec.primary_id)
        return True

    def _external_segments(self, user_ids: list[int]) -> dict:
        found = {}
        if not user_ids:
            return found
        for name, (model, cols) in SEGMENTS.items():
            rows = {}
            for row in bulk.select_in(model, ["user", "segment_type", *cols], "user", user_ids):
                if row[1] == "External":
                    rows.setdefault(row[0], []).append(row[2:])
            for uid, items in rows.items():
                found.setdefault(uid, {})[name] = _canon(items)
        return found

    def _write(self, new: list[FeedRecord], changed: list) -> None:
        now = _now()
        if not is_postgres():
            now = bulk.sqlite_value(now)  # as peewee stores it; converted once for the batch, not per row
        ids = {}
        if new:
            names = ["primary_id", *CORE_FIELDS, "account_type", "external_id", "preferred_language", "created",
                     "updated"]
            rows = [(r.primary_id, *r.core, "EXTERNAL", self.source,
                     r.preferred_language or "en", now, now) for r in new]
            ids = {pid: uid for uid, pid in bulk.insert(User, names, rows, returning=("id", "primary_id"))}
        if changed:
            bulk.update_by_id(User, [*CORE_FIELDS, "preferred_language", "updated"],
                              [(*rec.core, rec.preferred_language, now, uid)
                               for uid, rec, core_diff, _s in changed if core_diff])
            touched = [uid for uid, _rec, core_diff, _s in changed if not core_diff]
            for part in bulk.chunks(touched, 1000):
                User.update(updated=now).where(User.id.in_(part)).execute()
        # the new records' segment rows, all five kinds in one pass
        identifiers, emails, addresses, phones, statistics = fresh = [[] for _name in SEGMENTS]
        for r in new:
            uid = ids[r.primary_id]
            for row in r.identifiers:
                identifiers.append((uid, *row, "External"))
            for row in r.emails:
                emails.append((uid, *row, "External"))
            for row in r.addresses:
                addresses.append((uid, *row, "External"))
            for row in r.phones:
                phones.append((uid, *row, "External"))
            for row in r.statistics:
                statistics.append((uid, *row, "External"))
        for (name, (model, cols)), rows in zip(SEGMENTS.items(), fresh):
            stale = [uid for uid, _rec, _c, seg_diff in changed if name in seg_diff]
            for part in bulk.chunks(stale, 1000):
                model.delete().where(model.user.in_(part) & (model.segment_type == "External")).execute()
            rows += [(uid, *row, "External") for uid, rec, _c, seg_diff in changed if name in seg_diff
                     for row in getattr(rec, name)]
            bulk.insert(model, ["user", *cols, "segment_type"], rows)
        # the batch's Change rows (what changes.record_many writes, in one statement per batch), under the
        # change sequence's writer lock so kiosks never read a later seq before this one commits (PostgreSQL)
        changes._writer_lock()
        bulk.insert(Change, ["primary_id", "kind", "created"], [(r.primary_id, "upsert", now) for r in new]
                    + [(rec.primary_id, "upsert", now) for _u, rec, _c, _s in changed])

    def deactivate(self, missing: list[tuple[int, str]], purge_days: int) -> None:
        purge = self.today + dt.timedelta(days=purge_days)
        for pid in (pid for _uid, pid in missing):
            self.report.add("deactivated", pid)
        if self.dry_run:
            return
        for part in bulk.chunks(missing, self.batch_size):
            with database.atomic():
                User.update(status="INACTIVE", purge_date=purge, updated=_now()).where(
                    User.id.in_([uid for uid, _pid in part])).execute()
                changes.record_many([pid for _uid, pid in part])
            self.written += [pid for _uid, pid in part]
