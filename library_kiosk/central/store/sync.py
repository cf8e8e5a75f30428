"""Pages of changes after a cursor, as kiosks pull them.

A page holds the current account document of every patron changed after the
cursor (each patron once, at its latest change in the page), or a delete. The
cursor is the central store's change sequence, never a wall-clock time, and a
page never goes past the *safe horizon* (``library_kiosk.central.store.changes.safe_horizon``): on
PostgreSQL a change with a lower seq may commit after one with a higher seq, and
serving only up to the horizon means no kiosk ever skips it.

``horizon`` in the page is the highest seq known safe when the page was cut, so a
kiosk can show the progress of a first sync (``cursor / horizon``).

Documents come from the read model (``store/documents.py``): a stored document is
served for a change at seq ``s`` only if it was built from a snapshot that included
every change up to ``s``; stale or missing ones are built in one batch for the page,
stored, and served. A patron outside the kiosks' scope (``store/sync_scope.py``: with
``[central] sync_recent_days``, only the recently active) is served as a delete. Two shapes of the same page:
- ``changes_after``: a dict (the JSON answer), documents as objects;
- ``changes_lines``: the line format kiosks pull (``format=lines``), documents as the
  stored JSON text, never decoded or encoded again on the way to the kiosk's cache.

A page whose changes include staff unlocks (``changes.UNLOCK``, store/pin_checks.py ``unlock``) carries them in its
head as ``unlocks``: ``{primary_id: the unlock's time, UTC}``, the latest per patron; a kiosk clears its own
PIN counter and lock of that patron if they were made before then (docs/sync.md, "Unlocks").
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import peewee as pw

from library_kiosk.central.store import documents
from library_kiosk.central.store.accounts import build_accounts, identifiers_of, kiosk_document
from library_kiosk.central.store.changes import UNLOCK, safe_horizon
from library_kiosk.central.store.db import database, is_postgres
from library_kiosk.central.store.models import Change, User, UserGroup
from library_kiosk.central.store.sync_scope import EVERY_PATRON, Scope, in_scope
from library_kiosk.domain.identifier_keys import IdentifierKeyer

log = logging.getLogger(__name__)
LINES_MEDIA_TYPE = "application/x-kiosk-changes"


@dataclass
class Page:
    cursor: int
    more: bool
    horizon: int
    records: list = field(default_factory=list)  # (seq, primary_id, document or None, identifiers or None)
    built: int = 0  # documents built (not served from the read model) for this page
    unlocks: dict = field(default_factory=dict)  # primary_id -> when staff last cleared its PIN lock in the page


def page(cursor: int, limit: int = 500, horizon: int | None = None) -> Page:
    """The page after ``cursor``: up to ``limit`` changes, at most up to the safe horizon."""
    keep = horizon is None  # only a horizon read here (safe, before the build) may stamp stored documents
    horizon = safe_horizon() if horizon is None else horizon
    if cursor >= horizon:
        return Page(cursor, False, horizon)
    mark = "%s" if is_postgres() else "?"
    rows = database.execute_sql(  # the changes with their stored documents, in one statement through the driver
        'SELECT c."seq", c."primary_id", d."seq", d."document", d."identifiers", c."kind" FROM "change" AS c '
        'LEFT JOIN "patron_document" AS d ON d."primary_id" = c."primary_id" '
        f'WHERE c."seq" > {mark} AND c."seq" <= {mark} ORDER BY c."seq" LIMIT {mark}', (cursor, horizon, limit)
    ).fetchall()
    if not rows:
        return Page(horizon, False, horizon)
    latest, have, unlocked = {}, {}, []
    for seq, primary_id, stamp, document, identifiers, kind in rows:
        if kind == UNLOCK:
            unlocked.append(seq)
        latest.pop(primary_id, None)
        latest[primary_id] = seq  # later rows win; the dict stays in seq order
        if stamp is not None:
            have[primary_id] = (stamp, document, identifiers)
    stale = [pid for pid, seq in latest.items() if pid not in have or have[pid][0] < seq]
    built = {}
    if stale:
        built = documents.build(stale, horizon, keep=False)
        if keep:
            try:
                documents.save(built, horizon)
            except pw.OperationalError as exc:  # e.g. SQLite busy: serve the page anyway, build again next time
                log.warning("sync read model not stored: %s", exc)
    records = []
    for primary_id, seq in latest.items():
        if primary_id in built:
            value = built[primary_id]
        else:
            value = have[primary_id][1:]
        records.append((seq, primary_id, value[0], value[1]) if value else (seq, primary_id, None, None))
    last = rows[-1][0]
    return Page(last, len(rows) == limit and last < horizon, horizon, records, len(stale), _unlocks(unlocked))


def _unlocks(seqs: list[int]) -> dict:
    """The unlocks among a page's changes: primary_id -> the latest unlock's time (naive UTC)."""
    found: dict = {}
    if seqs:
        for primary_id, created in (Change.select(Change.primary_id, Change.created)
                                    .where(Change.seq.in_(seqs)).order_by(Change.seq).tuples()):
            found[primary_id] = created
    return found


def _utc(moment) -> str:
    return moment.isoformat() + "Z"  # to the microsecond: a lock made a moment before the unlock is cleared


def _scoped(found: Page, scope: Scope) -> list:
    """The page's records with those outside ``scope`` turned into deletes."""
    if scope.everyone:
        return found.records
    keep = in_scope(scope, [r[1] for r in found.records if r[2] is not None])
    return [r if r[1] in keep else (r[0], r[1], None, None) for r in found.records]


def changes_after(keyer: IdentifierKeyer, cursor: int, limit: int = 500, horizon: int | None = None,
                  scope: Scope = EVERY_PATRON) -> dict:
    """The page as a dict (the JSON answer of ``GET /api/v1/sync/changes``), identifiers keyed for one kiosk."""
    found = page(cursor, limit, horizon)
    records = []
    for seq, primary_id, document, identifiers in _scoped(found, scope):
        if document is None:
            records.append({"seq": seq, "primary_id": primary_id, "kind": "delete"})
        else:
            records.append({"seq": seq, "primary_id": primary_id, "kind": "upsert",
                            "account": json.loads(document), "identifiers": keyer.keyed(json.loads(identifiers))})
    answer = {"cursor": found.cursor, "more": found.more, "horizon": found.horizon, "key_id": keyer.key_id,
              "scope": scope.label, "records": records}
    if found.unlocks:
        answer["unlocks"] = {pid: _utc(at) for pid, at in found.unlocks.items()}
    return answer


def changes_lines(keyer: IdentifierKeyer, cursor: int, limit: int = 500, scope: Scope = EVERY_PATRON) -> str:
    """The page in the line format (``format=lines``), text of ``LINES_MEDIA_TYPE``:

    line 1: ``{"cursor": C, "more": M, "horizon": H, "key_id": K, "scope": S, "count": N}``, with
    ``"unlocks": {primary_id: "YYYY-MM-DDTHH:MM:SS[.ffffff]Z"}`` when the page holds staff unlocks;
    then N lines, one per record: ``[seq, "primary_id", "upsert", IDENTIFIERS]`` TAB ``DOCUMENT`` for an
    upsert (IDENTIFIERS: the active ones keyed for this kiosk, ``[{"id_type": T, "key": HMAC}, ...]``;
    DOCUMENT: the account document's compact JSON text, starting ``{"primary_id":``), or
    ``[seq, "primary_id", "delete"]``; last line ``{"end": N}``. Compact JSON never holds a raw tab or
    newline (they are escaped in strings), so the lines split safely; a cut-off page lacks its end line.
    """
    found = page(cursor, limit)
    dumps = json.dumps
    records = _scoped(found, scope)
    head = {"cursor": found.cursor, "more": found.more, "horizon": found.horizon, "key_id": keyer.key_id,
            "scope": scope.label, "count": len(records)}
    if found.unlocks:
        head["unlocks"] = {pid: _utc(at) for pid, at in found.unlocks.items()}
    parts = [dumps(head)]
    for seq, primary_id, document, identifiers in records:
        if document is None:
            parts.append(f'[{seq},{dumps(primary_id)},"delete"]')
        else:
            parts.append(f'[{seq},{dumps(primary_id)},"upsert",{keyer.keyed_json(identifiers)}]\t{document}')
    parts.append(f'{{"end":{len(records)}}}')
    parts.append("")
    return "\n".join(parts)


def account_record(keyer: IdentifierKeyer, primary_id: str, scope: Scope = EVERY_PATRON) -> dict:
    """One patron's record as a page carries it to one kiosk (an upsert, or a delete if gone or outside
    ``scope``), at its latest seq."""
    seq = (Change.select(Change.seq).where(Change.primary_id == primary_id)
           .order_by(Change.seq.desc()).limit(1).scalar()) or 0
    user = User.select(User, UserGroup).join(UserGroup).where(User.primary_id == primary_id).first()
    if user is None or not in_scope(scope, [primary_id]):
        return {"seq": seq, "primary_id": primary_id, "kind": "delete"}
    return {"seq": seq, "primary_id": primary_id, "kind": "upsert",
            "account": kiosk_document(build_accounts([user])[0].to_dict()),
            "identifiers": keyer.keyed(identifiers_of([user.id])[user.id])}


def refresh_documents(after: int = 0, batch: int = 5000, progress=None) -> int:
    """Build and store the documents of every patron changed after seq ``after`` whose stored document is
    stale (what a first sync would otherwise build); return how many were built."""
    built, cursor = 0, after
    while True:
        next_page = page(cursor, batch)
        built += next_page.built
        cursor = next_page.cursor
        if progress:
            progress(built, cursor, next_page.horizon)
        if not next_page.more:
            return built
