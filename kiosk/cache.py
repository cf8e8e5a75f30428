"""The kiosk's local SQLite cache (peewee, WAL): what its screens need, nothing more.

Stored per patron: the account document the screens render (name, group policy,
expiry, loans, requests, fees, blocks, the PIN's slow hash, the preferred email).
Identifiers are stored only as keyed hashes (HMAC-SHA256 with this device's key),
so a stolen disk does not give away card numbers or barcodes.
"""
from __future__ import annotations

import hmac
import json
import os
import secrets

import peewee as pw

from domain.account import Account
from store.db import SQLITE_PRAGMAS, make_database

cache_db = pw.DatabaseProxy()


class CacheModel(pw.Model):
    class Meta:
        database = cache_db
        legacy_table_names = False


class CachedPatron(CacheModel):
    primary_id = pw.CharField(primary_key=True)
    document = pw.TextField()
    seq = pw.BigIntegerField(default=0)


class CachedIdentifier(CacheModel):
    key = pw.CharField(primary_key=True)  # HMAC of the identifier value
    primary_id = pw.CharField(index=True)


class SyncState(CacheModel):
    name = pw.CharField(primary_key=True)
    value = pw.TextField()


CACHE_MODELS = [CachedPatron, CachedIdentifier, SyncState]


def open_cache(url: str) -> pw.Database:
    """Open (and create) the cache. SQLite runs in WAL with ``synchronous=FULL``: a committed
    outbox operation or page survives a power cut, not only a crash of the process."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        make_database(url)  # creates the folder
        db = pw.SqliteDatabase(url[len("sqlite:///"):], pragmas={**SQLITE_PRAGMAS, "synchronous": "full"},
                               check_same_thread=False)
    else:
        db = make_database(url)
    cache_db.initialize(db)
    from kiosk.lockout import LOCKOUT_MODELS  # the PIN lock counters (kiosk/lockout.py)
    from kiosk.outbox import OUTBOX_MODELS  # the durable outbox (kiosk/outbox.py)

    with db.connection_context():
        db.create_tables(CACHE_MODELS + LOCKOUT_MODELS + OUTBOX_MODELS, safe=True)
    return db


class PageError(ValueError):
    """A page from the central store is malformed (corrupt or truncated): nothing is applied."""


def _check_page(page, current_cursor: int) -> None:
    if not isinstance(page, dict) or not isinstance(page.get("records"), list) \
            or not isinstance(page.get("cursor"), int) or not isinstance(page.get("more"), bool):
        raise PageError("the page lacks its cursor, more flag or records")
    if page["cursor"] < current_cursor:
        raise PageError(f"the page's cursor {page['cursor']} is behind the cache's {current_cursor}")
    for record in page["records"]:
        _check_record(record)


def _check_record(record) -> None:
    if not isinstance(record, dict) or not isinstance(record.get("primary_id"), str) \
            or not isinstance(record.get("seq"), int) or record.get("kind") not in ("upsert", "delete"):
        raise PageError("a record lacks its primary id, seq or kind")
    if record["kind"] == "upsert":
        identifiers = record.get("identifiers")
        if "document" in record:  # the line format: the document's JSON text, stored as is
            if not _document_of(record["document"], record["primary_id"]):
                raise PageError(f"the document of {record['primary_id']!r} is incomplete")
        else:
            account = record.get("account")
            if not isinstance(account, dict) or account.get("primary_id") != record["primary_id"]:
                raise PageError(f"the record of {record['primary_id']!r} is incomplete")
        if not isinstance(identifiers, list) \
                or not all(isinstance(i, dict) and isinstance(i.get("value"), str) for i in identifiers):
            raise PageError(f"the record of {record['primary_id']!r} is incomplete")


def _document_of(document, primary_id: str) -> bool:
    """A document sent as JSON text: an object that starts with its own primary id (``Account.to_dict``
    order, compact JSON as the central store writes it) and is closed."""
    return isinstance(document, str) and document.endswith("}") \
        and document.startswith('{"primary_id":' + json.dumps(primary_id) + ",")


def parse_lines(text: str) -> dict:
    """A page in the line format (``store.sync.changes_lines``) as a page dict whose upserts carry
    ``document`` (the JSON text) instead of ``account``. Raises ``PageError`` if it is cut off or garbled."""
    lines = text.split("\n")
    if len(lines) < 3 or lines[-1] != "":
        raise PageError("the page is cut off")
    try:
        head = json.loads(lines[0])
        end = json.loads(lines[-2])
    except ValueError:
        raise PageError("the page's first or last line is not JSON") from None
    body = lines[1:-2]
    if not isinstance(head, dict) or not isinstance(end, dict) or head.get("count") != len(body) \
            or end.get("end") != len(body):
        raise PageError("the page is cut off (its record count does not match)")
    prefixes, docs = [], []
    for line in body:
        prefix, _tab, document = line.partition("\t")
        prefixes.append(prefix)
        docs.append(document)
    try:
        heads = json.loads("[" + ",".join(prefixes) + "]") if prefixes else []
    except ValueError:
        raise PageError("a record line is garbled") from None
    records = []
    for fields, document in zip(heads, docs):
        if not isinstance(fields, list) or len(fields) < 3:
            raise PageError("a record line is garbled")
        if fields[2] == "upsert" and len(fields) == 4 and _document_of(document, fields[1]):
            records.append({"seq": fields[0], "primary_id": fields[1], "kind": "upsert", "document": document,
                            "identifiers": fields[3]})
        elif fields[2] == "delete" and len(fields) == 3 and not document:
            records.append({"seq": fields[0], "primary_id": fields[1], "kind": fields[2]})
        else:
            raise PageError("a record line is garbled")
    page = {"cursor": head.get("cursor"), "more": head.get("more"), "records": records}
    if "horizon" in head:
        page["horizon"] = head["horizon"]
    return page


def load_device_key(configured: str, data_dir: str) -> bytes:
    """The key for identifier hashes: configured, or made once and kept in ``data_dir``."""
    if configured:
        return configured.encode()
    path = os.path.join(data_dir, "identifier.key")
    if not os.path.exists(path):
        os.makedirs(data_dir, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    with open(path) as handle:
        return handle.read().strip().encode()


class PatronCache:
    """Lookups and page-wise updates of the cache, under one device key."""

    def __init__(self, key: bytes):
        self.key = key

    def identifier_key(self, value: str) -> str:
        return hmac.digest(self.key, value.strip().upper().encode(), "sha256").hex()  # HMAC-SHA256, one C call

    def find(self, identifier: str) -> Account | None:
        row = (
            CachedPatron.select(CachedPatron.document)
            .join(CachedIdentifier, on=(CachedIdentifier.primary_id == CachedPatron.primary_id))
            .where(CachedIdentifier.key == self.identifier_key(identifier))
            .first()
        )
        return Account.from_dict(json.loads(row.document)) if row else None

    def get(self, primary_id: str) -> Account | None:
        row = CachedPatron.get_or_none(CachedPatron.primary_id == primary_id)
        return Account.from_dict(json.loads(row.document)) if row else None

    def apply_page(self, page: dict) -> int:
        """Apply one page of changes atomically and advance the cursor; return records applied.

        A page is checked first (a corrupt or truncated page raises ``PageError`` and
        changes nothing), then applied in one transaction with bulk statements, so the
        screens never see half a page and a crash leaves the cache at a page boundary.
        """
        _check_page(page, self.cursor())
        with cache_db.atomic():
            self._write(page["records"])
            SyncState.replace(name="cursor", value=str(page["cursor"])).execute()
            if "horizon" in page:
                SyncState.replace(name="horizon", value=str(page["horizon"])).execute()
        return len(page["records"])

    def apply_records(self, records: list[dict]) -> int:
        """Apply single patrons' records (from a push answer), skipping any older than the cached one."""
        for record in records:
            _check_record(record)
        ids = [r["primary_id"] for r in records]
        cached = dict(CachedPatron.select(CachedPatron.primary_id, CachedPatron.seq)
                      .where(CachedPatron.primary_id.in_(ids)).tuples()) if ids else {}
        fresh = [r for r in records if r["seq"] >= cached.get(r["primary_id"], 0)
                 and (r["kind"] == "upsert" or r["primary_id"] in cached)]
        with cache_db.atomic():
            self._write(fresh)
        return len(fresh)

    def _write(self, records: list[dict]) -> None:
        primary_ids = [record["primary_id"] for record in records]
        patrons, identifiers = [], []
        key, digest = self.key, hmac.digest
        for record in records:
            if record["kind"] == "delete":
                continue
            primary_id = record["primary_id"]
            document = record.get("document")  # the line format: stored as the central store wrote it
            if document is None:
                document = json.dumps(record["account"], separators=(",", ":"))
            patrons.append((primary_id, document, record["seq"]))
            keys = {digest(key, i["value"].strip().upper().encode(), "sha256").hex()
                    for i in record["identifiers"] if i.get("status") == "ACTIVE"}
            identifiers.extend((k, primary_id) for k in keys)
        cursor = cache_db.cursor()
        for start in range(0, len(primary_ids), 500):
            chunk = primary_ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            cursor.execute(f"DELETE FROM cached_identifier WHERE primary_id IN ({marks})", chunk)
            cursor.execute(f"DELETE FROM cached_patron WHERE primary_id IN ({marks})", chunk)
        cursor.executemany("INSERT INTO cached_patron (primary_id, document, seq) VALUES (?, ?, ?)", patrons)
        cursor.executemany("INSERT OR REPLACE INTO cached_identifier (key, primary_id) VALUES (?, ?)", identifiers)

    @staticmethod
    def state(name: str, default: str = "") -> str:
        row = SyncState.get_or_none(SyncState.name == name)
        return row.value if row else default

    @staticmethod
    def set_state(**values) -> None:
        with cache_db.atomic():
            for name, value in values.items():
                SyncState.replace(name=name, value=str(value)).execute()

    def replace_account(self, account: Account) -> None:
        CachedPatron.update(document=json.dumps(account.to_dict())).where(
            CachedPatron.primary_id == account.primary_id
        ).execute()

    @staticmethod
    def cursor() -> int:
        row = SyncState.get_or_none(SyncState.name == "cursor")
        return int(row.value) if row else 0

    @staticmethod
    def count() -> int:
        return CachedPatron.select().count()
