"""The sync read model: each patron's account document, stored as the JSON text kiosks cache.

``PatronDocument(primary_id, seq, document, identifiers)`` holds the document and the
identifiers of a patron as built from a snapshot that included every change up to ``seq``
(the *stamp*). Pages of changes (``store/sync.py``) serve a stored document for a change
at seq ``s`` only if its stamp is at least ``s``; otherwise the page builds the patron's
document again (in batches), stores it with the page's horizon as its stamp, and serves it.
A first sync of a library whose documents are built streams stored strings.

Why a stored document is never older than what the page promises (docs/sync.md):
- The page's horizon ``H`` is *safe* when it is read (``library_kiosk.central.store.changes.safe_horizon``):
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
Bulk writers build ahead of the first kiosk the documents of the patrons they changed, once
their transactions have committed: ``refresh_patrons(primary_ids)`` (the patron feed as its
"Preparing kiosk documents" phase, the demo generator, and the admin jobs that write Change
rows: purge, waive, merge, group move). It stamps the documents with a safe horizon read
after the writes committed, so the first kiosk streams them instead of building them.
``refresh(after)`` builds every stale document after a cursor (the sync benchmark runs it;
useful after a bulk write that did not refresh). Without either the first kiosk builds the
documents as it pulls (slower, equally correct).
"""
from __future__ import annotations

import time

import peewee as pw

from library_kiosk.central.store.db import database, is_postgres
from library_kiosk.central.store.models import BaseModel


class PatronDocument(BaseModel):
    primary_id = pw.CharField(max_length=100, primary_key=True)
    seq = pw.BigIntegerField()  # the stamp: every change of this patron up to seq is in the document
    document = pw.TextField()  # compact JSON, what Account.to_dict() gives
    identifiers = pw.TextField()  # compact JSON list of {id_type, value, status}


def configure(pin_check_bits: int) -> bool:
    """Serve kiosks ``pin_check_bits`` of each PIN's offline check value (``[central] offline_pin_check_bits``).
    When that differs from what the stored documents were built with, they are all dropped (pages build them
    again) and every patron with a check value is recorded as changed, so kiosks pull the new value; return
    whether the setting changed."""
    from library_kiosk.central.store import changes
    from library_kiosk.central.store.accounts import configure_kiosk_documents
    from library_kiosk.central.store.fleet_keys import FleetKey
    from library_kiosk.central.store.models import User

    bits = str(configure_kiosk_documents(pin_check_bits))
    with database.atomic():
        _reshape()
        held = FleetKey.get_or_none(FleetKey.name == "served_pin_check_bits")
        if held is not None and held.value == bits:
            return False
        FleetKey.insert(name="served_pin_check_bits", value=bits).on_conflict(
            conflict_target=[FleetKey.name], update={FleetKey.value: bits}).execute()
        if held is None:
            return False  # the first start: documents already carry the setting's bits
        PatronDocument.delete().execute()
        changes.record_many([pid for (pid,) in User.select(User.primary_id).where(User.pin_check != "").tuples()])
    return True


DOCUMENT_SHAPE = "2"  # 2: documents carry the notes the patron may see (docs/sync.md)


def _reshape() -> None:
    """Once per new shape of the documents: the patrons whose document gains something (shape 2: a note they may
    see) are recorded as changed, so their stored documents (built in the older shape) are built again and kiosks
    pull them. Other patrons' older documents read the same (a missing ``notes`` is no notes)."""
    from library_kiosk.central.store import changes
    from library_kiosk.central.store.fleet_keys import FleetKey
    from library_kiosk.central.store.models import Note, User

    held = FleetKey.get_or_none(FleetKey.name == "document_shape")
    if held is not None and held.value == DOCUMENT_SHAPE:
        return
    FleetKey.insert(name="document_shape", value=DOCUMENT_SHAPE).on_conflict(
        conflict_target=[FleetKey.name], update={FleetKey.value: DOCUMENT_SHAPE}).execute()
    changes.record_many([pid for (pid,) in User.select(User.primary_id).join(Note).where(Note.user_viewable)
                         .distinct().tuples()])


def build(primary_ids, stamp: int, keep: bool = True) -> dict[str, tuple[str, str] | None]:
    """Build the documents of ``primary_ids`` now (``None`` for patrons gone) and, with ``keep``, store them
    stamped ``stamp``. ``stamp`` must be a safe horizon read *before* this call (see the module docstring)."""
    from library_kiosk.central.store.accounts import documents

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


def refresh_patrons(primary_ids, batch: int = 2000, progress=None, wait: float = 2.0) -> int:
    """Build and store now the documents of ``primary_ids``, the patrons a bulk write has just changed, so the
    first kiosk sync streams them instead of building them; patrons gone lose their stored document. Call it
    after the write's transactions have committed (not inside one). ``progress(done, total)`` after each batch
    of ``batch`` patrons. Returns how many patrons were refreshed.

    The stamp is a safe horizon read before the builds (the rule of the module docstring). It should cover the
    changes just written (the highest seq after the write): on PostgreSQL a writer in flight elsewhere can keep
    the horizon behind for a moment, so it is read again for up to ``wait`` seconds; a stamp that still falls
    short is only a lost head start (those patrons' documents are built again by the first sync)."""
    from library_kiosk.central.store.changes import latest_seq, safe_horizon

    ids = list(dict.fromkeys(primary_ids))
    if not ids:
        return 0
    if progress:
        progress(0, len(ids))
    target = latest_seq()
    deadline = time.monotonic() + wait
    while True:
        horizon = safe_horizon()
        if horizon >= target or time.monotonic() >= deadline:
            break
        time.sleep(0.01)
    for start in range(0, len(ids), batch):
        build(ids[start:start + batch], horizon)
        if progress:
            progress(min(start + batch, len(ids)), len(ids))
    return len(ids)
