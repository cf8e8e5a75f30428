"""The sync read model: each patron's account document, stored as the JSON text kiosks cache.

``PatronDocument(primary_id, seq, document, identifiers)`` holds the document and the
identifiers of a patron as built from a snapshot that included every change up to ``seq``
(the *stamp*). Pages of changes (``store/sync.py``) serve a stored document for a change
at seq ``s`` only if its stamp is at least ``s``; otherwise the page builds the patron's
document again (in batches), stores it with the page's horizon as its stamp, and serves it.
A first sync of a library whose documents are built streams stored strings.

Why a stored document is never older than what the page promises (docs/sync.md):
- The page's horizon ``H`` is *safe* when it is read (``store.changes.safe_horizon``):
  every transaction that took a seq at or below ``H`` has committed (or rolled back) by
  then. The build reads the patron's rows afterwards, so it sees every change ``<= H``;
  a document stamped ``H`` therefore reflects every change of its patron up to ``H``
  (writes committed later may be in it too: they carry seqs above ``H``, so they are
  served, and rebuilt, by a later page).
- A stamp is never larger than the horizon read before the build, whichever process or
  thread builds, so concurrent builders can only store a document that is valid for
  its own stamp; an older one overwriting a newer one (prevented by the upsert's
  ``WHERE``, but harmless) would only cost a rebuild.
- A patron that no longer exists has no document; the page serves a delete.
Writers need do nothing beyond what they already do (a ``Change`` row in the same
transaction as the write): a new change has a seq above every stamp that could be
stored for the patron before it, so it makes the stored document stale for that page.
``refresh(after)`` builds the stale documents ahead of the first kiosk (after a bulk load
such as the demo generator or the patron feed; the sync benchmark runs it), with the same
rule; without it the first kiosk builds them as it pulls (slower, equally correct).
"""
from __future__ import annotations

import peewee as pw

from store.db import database, is_postgres
from store.models import ALL_MODELS, BaseModel


class PatronDocument(BaseModel):
    primary_id = pw.CharField(max_length=100, primary_key=True)
    seq = pw.BigIntegerField()  # the stamp: every change of this patron up to seq is in the document
    document = pw.TextField()  # compact JSON, what Account.to_dict() gives
    identifiers = pw.TextField()  # compact JSON list of {id_type, value, status}


if PatronDocument not in ALL_MODELS:
    ALL_MODELS.append(PatronDocument)


def stored(primary_ids) -> dict[str, tuple[int, str, str]]:
    """``{primary_id: (stamp, document, identifiers)}`` of the stored documents among ``primary_ids``."""
    found = {}
    ids = list(primary_ids)
    for start in range(0, len(ids), 2000):
        for pid, stamp, document, identifiers in (
                PatronDocument.select(PatronDocument.primary_id, PatronDocument.seq, PatronDocument.document,
                                      PatronDocument.identifiers)
                .where(PatronDocument.primary_id.in_(ids[start:start + 2000])).tuples()):
            found[pid] = (stamp, document, identifiers)
    return found


def build(primary_ids, stamp: int, keep: bool = True) -> dict[str, tuple[str, str] | None]:
    """Build the documents of ``primary_ids`` now (``None`` for patrons gone) and, with ``keep``, store them
    stamped ``stamp``. ``stamp`` must be a safe horizon read *before* this call (see the module docstring)."""
    from store.accounts import documents

    ids = list(dict.fromkeys(primary_ids))
    built = documents(ids)
    found = {pid: built.get(pid) for pid in ids}
    if keep:
        save(found, stamp)
    return found


def save(found: dict[str, tuple[str, str] | None], stamp: int) -> None:
    """Store built documents with their stamp (a newer stored stamp wins); forget patrons gone."""
    rows = sorted((pid, stamp, doc, idents) for pid, value in found.items() if value is not None
                  for doc, idents in (value,))  # sorted: the same lock order in every process
    gone = sorted(pid for pid, value in found.items() if value is None)
    if not rows and not gone:
        return
    cursor_sql = ('INSERT INTO "patron_document" ("primary_id", "seq", "document", "identifiers") VALUES {values} '
                  'ON CONFLICT ("primary_id") DO UPDATE SET "seq" = excluded."seq", "document" = excluded."document", '
                  '"identifiers" = excluded."identifiers" WHERE "patron_document"."seq" < excluded."seq"')
    with database.atomic():
        cursor = database.cursor()
        if rows:
            if is_postgres():
                from psycopg2.extras import execute_values

                execute_values(cursor, cursor_sql.format(values="%s"), rows, page_size=1000)
            else:
                cursor.executemany(cursor_sql.format(values="(?, ?, ?, ?)"), rows)
        for start in range(0, len(gone), 1000):
            PatronDocument.delete().where(PatronDocument.primary_id.in_(gone[start:start + 1000])
                                          & (PatronDocument.seq < stamp)).execute()


def refresh(after: int = 0, batch: int = 5000, progress=None) -> int:
    """Build and store the documents of every patron changed after seq ``after`` whose stored document is
    stale (what a first sync would otherwise build); return how many were built."""
    from store import sync

    built, cursor = 0, after
    while True:
        page = sync.page(cursor, batch)
        built += page.built
        cursor = page.cursor
        if progress:
            progress(built, cursor, page.horizon)
        if not page.more:
            return built
