"""The kiosk's local SQLite cache (peewee, WAL): what its screens need, nothing more.

Stored per patron: the account document the screens render (name, group policy,
expiry, loans, requests, fees, blocks, the notes the patron may see, the PIN's offline
check value, the preferred email masked). Identifiers arrive and are stored only as keyed hashes (HMAC-SHA256
under this kiosk's own key, which the central store made and keeps; kiosk/device_keys.py):
the cache never sees a card number or barcode, and the key is not kept beside it.
"""
from __future__ import annotations

import json
from typing import NamedTuple

import peewee as pw

from kiosk.cache_db import CacheModel, SyncState, cache_db
from kiosk.device_keys import DeviceKeys, KeyRing, KeysUnavailable
from kiosk.lockout import LOCKOUT_MODELS, clear_unlocked  # the PIN lock counters (kiosk/lockout.py)
from kiosk.outbox import OUTBOX_MODELS  # the durable outbox (kiosk/outbox.py)
from kiosk.pages import PageError, check_head, check_record, document_of, unlocks_of
from kiosk.usage import USAGE_MODELS  # daily usage counters, nothing personal (kiosk/usage.py)
from library_kiosk.database import SQLITE_PRAGMAS, make_database
from library_kiosk.domain.account import Account
from library_kiosk.domain.identifier_keys import IdentifierKeyer


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
        # lock_type IMMEDIATE: every transaction takes the write lock first, waiting its busy timeout for it. A
        # deferred one that reads, then writes, fails at once with "database is locked" when another connection
        # (the web app's other threads, the sync worker) committed in between: SQLite cannot wait there.
        db = pw.SqliteDatabase(url[len("sqlite:///"):], pragmas={**SQLITE_PRAGMAS, "synchronous": "full"},
                               check_same_thread=False, lock_type="IMMEDIATE")
    else:
        db = make_database(url)
    cache_db.initialize(db)
    with db.connection_context():
        db.create_tables(CACHE_MODELS + LOCKOUT_MODELS + OUTBOX_MODELS + USAGE_MODELS, safe=True)
    return db


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
    """Lookups and page-wise updates of the cache. ``keys`` finds the identifier key for lookups: a ``KeyRing``
    (the kiosk), fixed bytes (tests, benchmarks), or None (the sync worker, which stores hashes as sent)."""

    def __init__(self, keys: KeyRing | bytes | None = None):
        self.keys = keys
        self._keyer: IdentifierKeyer | None = None

    def device_keys(self) -> DeviceKeys | None:
        """The keys that match the cache's hashes (``KeysUnavailable`` when there are none yet)."""
        if isinstance(self.keys, bytes):
            return DeviceKeys(self.keys, self.keys, 16)
        found = self.keys.get(self.state("key_id")) if self.keys is not None else None
        if found is None:
            raise KeysUnavailable("this kiosk has not received its keys from the central store yet")
        return found

    def fetch_keys(self) -> None:
        """Make sure the keys matching the cache's hashes are held (fetched from the central store if not)."""
        if isinstance(self.keys, KeyRing):
            self.keys.get(self.state("key_id"))

    def identifier_key(self, value: str) -> str:
        """HMAC-SHA256 of the normalised identifier, hex, as the central store keyed this kiosk's identifiers."""
        key = self.device_keys().identifier_key
        if self._keyer is None or self._keyer.key_bytes != key:
            self._keyer = IdentifierKeyer(key)
        return self._keyer.key(value)

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
            clear_unlocked(unlocks_of(page))  # locks staff cleared at the station (docs/sync.md "Unlocks")
            SyncState.replace(name="cursor", value=str(page["cursor"])).execute()
            if "horizon" in page:
                SyncState.replace(name="horizon", value=str(page["horizon"])).execute()
            if page.get("key_id"):
                SyncState.replace(name="key_id", value=page["key_id"]).execute()
            if isinstance(page.get("scope"), str):
                SyncState.replace(name="scope", value=page["scope"]).execute()
            if before_commit is not None:
                before_commit()
        return len(page["records"])

    def must_refill(self, page: dict) -> bool:
        """Whether ``page``'s identifiers are keyed under another key than the cache's (this kiosk was enrolled
        again), or the page is cut to another scope (``[central] sync_recent_days`` changed): then the stored
        hashes are useless, or patrons are held that the scope leaves out, and the cache must be filled again
        from the start."""
        started = self.cursor() > 0
        held = self.state("key_id")
        if page.get("key_id") and page["key_id"] != held and (bool(held) or started):
            return True
        scope = page.get("scope")
        return isinstance(scope, str) and started and scope != (self.state("scope") or "all")

    def scoped(self) -> bool:
        """Whether the central store sends this kiosk only some patrons (an unknown card may be a patron)."""
        return (self.state("scope") or "all") != "all"

    @staticmethod
    def reset() -> None:
        """Empty the patrons, their hashes and the cursor (the outbox and the counters stay)."""
        with cache_db.atomic("IMMEDIATE"):
            CachedIdentifier.delete().execute()
            CachedPatron.delete().execute()
            SyncState.delete().where(SyncState.name.in_(["cursor", "horizon", "key_id", "scope"])).execute()

    def apply_records(self, records: list[dict]) -> int:
        """Apply single patrons' records (from a push answer), skipping any older than the cached one."""
        for record in records:
            check_record(record)
        ids = [r["primary_id"] for r in records]
        with cache_db.atomic():  # (the write lock first: open_cache) read and written as one step
            cached = dict(CachedPatron.select(CachedPatron.primary_id, CachedPatron.seq)
                          .where(CachedPatron.primary_id.in_(ids)).tuples()) if ids else {}
            fresh = [r for r in records if r["seq"] >= cached.get(r["primary_id"], 0)
                     and (r["kind"] == "upsert" or r["primary_id"] in cached)]
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

    @staticmethod
    def _active_keys(values, primary_id: str) -> set[str]:
        """The keyed hashes of a record's identifiers (the central store sends the active ones only, each as
        ``{"id_type", "key"}``); ``PageError`` if the list or an entry is malformed."""
        if not isinstance(values, list):
            raise PageError(f"the record of {primary_id!r} is incomplete")
        keys = set()
        for identifier in values:
            key = identifier.get("key") if isinstance(identifier, dict) else None
            if not isinstance(key, str) or len(key) != 64:
                raise PageError(f"the record of {primary_id!r} is incomplete")
            keys.add(key)
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
