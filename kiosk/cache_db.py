"""The kiosk's SQLite file as peewee sees it: the database proxy every local table binds to, and the
sync state table. The tables live with what they serve (kiosk/cache.py, lockout.py, outbox.py, usage.py);
``kiosk.cache.open_cache`` opens the file and creates them all."""
from __future__ import annotations

import peewee as pw

cache_db = pw.DatabaseProxy()


class CacheModel(pw.Model):
    class Meta:
        database = cache_db
        legacy_table_names = False


class SyncState(CacheModel):
    name = pw.CharField(primary_key=True)
    value = pw.TextField()
