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

import peewee as pw

from domain.account import Account
from store.db import make_database

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
    db = make_database(url)
    cache_db.initialize(db)
    with db.connection_context():
        db.create_tables(CACHE_MODELS, safe=True)
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


class PatronCache:
    """Lookups and page-wise updates of the cache, under one device key."""

    def __init__(self, key: bytes):
        self.key = key

    def identifier_key(self, value: str) -> str:
        return hmac.new(self.key, value.strip().upper().encode(), hashlib.sha256).hexdigest()

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

        A page is applied in one transaction with bulk statements, so the screens
        never see half a page and a crash leaves the cache at a page boundary.
        """
        records = page["records"]
        primary_ids = [record["primary_id"] for record in records]
        patrons, identifiers = [], []
        for record in records:
            if record["kind"] == "delete":
                continue
            patrons.append((record["primary_id"], json.dumps(record["account"], separators=(",", ":")),
                            record["seq"]))
            keys = {self.identifier_key(i["value"]) for i in record["identifiers"] if i["status"] == "ACTIVE"}
            identifiers.extend((key, record["primary_id"]) for key in keys)
        with cache_db.atomic():
            cursor = cache_db.cursor()
            for start in range(0, len(primary_ids), 500):
                chunk = primary_ids[start:start + 500]
                marks = ",".join("?" * len(chunk))
                cursor.execute(f"DELETE FROM cached_identifier WHERE primary_id IN ({marks})", chunk)
                cursor.execute(f"DELETE FROM cached_patron WHERE primary_id IN ({marks})", chunk)
            cursor.executemany("INSERT INTO cached_patron (primary_id, document, seq) VALUES (?, ?, ?)", patrons)
            cursor.executemany("INSERT OR REPLACE INTO cached_identifier (key, primary_id) VALUES (?, ?)", identifiers)
            SyncState.replace(name="cursor", value=str(page["cursor"])).execute()
        return len(records)

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
