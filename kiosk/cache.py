"""The kiosk's local SQLite cache (peewee, WAL): what its screens need, nothing more.

Stored per patron: the account document the screens render (name, group policy,
expiry, loans, requests, fees, blocks, the PIN's slow hash, the preferred email).
Identifiers are stored only as keyed hashes (HMAC-SHA256 with this device's key),
so a stolen disk does not give away card numbers or barcodes.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from typing import NamedTuple

import peewee as pw

from kiosk.cache_db import CacheModel, SyncState, cache_db
from kiosk.lockout import LOCKOUT_MODELS  # the PIN lock counters (kiosk/lockout.py)
from kiosk.outbox import OUTBOX_MODELS  # the durable outbox (kiosk/outbox.py)
from kiosk.pages import PageError, check_head, check_record, document_of
from kiosk.usage import USAGE_MODELS  # daily usage counters, nothing personal (kiosk/usage.py)
from library_kiosk.database import SQLITE_PRAGMAS, make_database
from library_kiosk.domain.account import Account


class CachedPatron(CacheModel):
    primary_id = pw.CharField(primary_key=True)
    document = pw.TextField()
    seq = pw.BigIntegerField(default=0)


class CachedIdentifier(CacheModel):
    key = pw.CharField(primary_key=True)  # HMAC of the identifier value
    primary_id = pw.CharField(index=True)


CACHE_MODELS = [CachedPatron, CachedIdentifier, SyncState]  # the cache's own tables; open_cache creates all


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
    with db.connection_context():
        db.create_tables(CACHE_MODELS + LOCKOUT_MODELS + OUTBOX_MODELS + USAGE_MODELS, safe=True)
    return db


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


class PreparedPage(NamedTuple):
    """A checked page and its rows, ready to write (``PatronCache.prepare_page``)."""
    page: dict
    ids: list
    patrons: list
    identifiers: list


def _record_head(record) -> tuple[str, int, str]:
    """A record's primary id, seq and kind; ``PageError`` if any is missing or of the wrong kind."""
    if not isinstance(record, dict):
        raise PageError("a record lacks its primary id, seq or kind")
    primary_id, seq, kind = record.get("primary_id"), record.get("seq"), record.get("kind")
    if not isinstance(primary_id, str) or not isinstance(seq, int) or kind not in ("upsert", "delete"):
        raise PageError("a record lacks its primary id, seq or kind")
    return primary_id, seq, kind


def _document_text(record: dict, primary_id: str) -> str:
    """The document to store, as JSON text: the line format's as sent, else the account dumped compactly.
    ``PageError`` if it is not the patron's or is cut off."""
    if "document" in record:  # the line format: the document's JSON text, stored as is
        document = record["document"]
        if not document_of(document, primary_id):
            raise PageError(f"the document of {primary_id!r} is incomplete")
        return document
    account = record.get("account")
    if not isinstance(account, dict) or account.get("primary_id") != primary_id:
        raise PageError(f"the record of {primary_id!r} is incomplete")
    return json.dumps(account, separators=(",", ":"))


class PatronCache:
    """Lookups and page-wise updates of the cache, under one device key."""

    def __init__(self, key: bytes):
        self.key = key
        keyed = hmac.new(key, digestmod=hashlib.sha256)  # the keyed state, copied for each identifier
        self._keyed = getattr(keyed, "_hmac", None) or keyed  # OpenSSL's own object when there: no Python per copy

    def identifier_key(self, value: str) -> str:
        return self._hashing(value)

    def _hashing(self, value: str) -> str:
        """HMAC-SHA256 of the normalised identifier, hex: a copy of the keyed state (OpenSSL, no Python HMAC
        code per value), the same digest as ``hmac.digest(key, value, "sha256")``."""
        state = self._keyed.copy()
        state.update(value.strip().upper().encode())
        return state.hexdigest()

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
        return self.apply_prepared(self.prepare_page(page))

    def prepare_page(self, page: dict) -> PreparedPage:
        """Check a page (``PageError`` if it is corrupt or truncated) and make its rows (documents, identifier
        hashes), without touching the cache: the pull does this for the next page while the current one
        commits. Every record is checked in the same pass that makes its rows."""
        check_head(page)
        return PreparedPage(page, *self._rows(page["records"]))

    def apply_prepared(self, prepared: PreparedPage, before_commit=None) -> int:
        """Write a prepared page and its cursor in one transaction. ``before_commit()`` is called once the
        rows are written, just before the commit (the pull lets the next page be prepared meanwhile)."""
        page = prepared.page
        current = self.cursor()
        if page["cursor"] < current:
            raise PageError(f"the page's cursor {page['cursor']} is behind the cache's {current}")
        with cache_db.atomic("IMMEDIATE"):  # the write lock first: wait for the web app's writes, never fail
            self._store(prepared.ids, prepared.patrons, prepared.identifiers)
            SyncState.replace(name="cursor", value=str(page["cursor"])).execute()
            if "horizon" in page:
                SyncState.replace(name="horizon", value=str(page["horizon"])).execute()
            if before_commit is not None:
                before_commit()
        return len(page["records"])

    def apply_records(self, records: list[dict]) -> int:
        """Apply single patrons' records (from a push answer), skipping any older than the cached one."""
        for record in records:
            check_record(record)
        ids = [r["primary_id"] for r in records]
        cached = dict(CachedPatron.select(CachedPatron.primary_id, CachedPatron.seq)
                      .where(CachedPatron.primary_id.in_(ids)).tuples()) if ids else {}
        fresh = [r for r in records if r["seq"] >= cached.get(r["primary_id"], 0)
                 and (r["kind"] == "upsert" or r["primary_id"] in cached)]
        with cache_db.atomic():
            self._write(fresh)
        return len(fresh)

    def _write(self, records: list[dict]) -> None:
        self._store(*self._rows(records))

    def _rows(self, records: list) -> tuple[list, list, list]:
        """Check each record (as ``kiosk.pages.check_record``) and make its rows: the primary ids to replace, the
        patron rows and the (identifier hash, primary id) rows of active identifiers. ``PageError`` if a
        record is malformed; nothing is written here."""
        ids, patrons, identifiers = [], [], []
        for record in records:
            primary_id, seq, kind = _record_head(record)
            ids.append(primary_id)
            if kind == "delete":
                continue
            document = _document_text(record, primary_id)
            keys = self._active_keys(record.get("identifiers"), primary_id)
            patrons.append((primary_id, document, seq))
            identifiers.extend((k, primary_id) for k in keys)
        return ids, patrons, identifiers

    def _active_keys(self, values, primary_id: str) -> set[str]:
        """The hashes of a record's active identifiers; ``PageError`` if the list or an entry is malformed."""
        if not isinstance(values, list):
            raise PageError(f"the record of {primary_id!r} is incomplete")
        copy = self._keyed.copy
        keys = set()
        for identifier in values:
            if not isinstance(identifier, dict) or not isinstance(identifier.get("value"), str):
                raise PageError(f"the record of {primary_id!r} is incomplete")
            if identifier.get("status") == "ACTIVE":  # as _hashing, inlined
                state = copy()
                state.update(identifier["value"].strip().upper().encode())
                keys.add(state.hexdigest())
        return keys

    def _store(self, ids: list, patrons: list, identifiers: list) -> None:
        """Replace the patrons ``ids`` (deleted, or sent again) by ``patrons`` and their identifier hashes.
        Only patrons the cache holds are deleted first (one probe per 500 ids): a first sync deletes nothing."""
        cursor = cache_db.cursor()
        held = []
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            held += [row[0] for row in cursor.execute(
                f"SELECT primary_id FROM cached_patron WHERE primary_id IN ({marks})", chunk)]
        for start in range(0, len(held), 500):
            chunk = held[start:start + 500]
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
