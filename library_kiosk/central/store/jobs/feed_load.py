"""The patron feed's load phase: the checked rows written to the store, a batch at a time.

A batch is classified with three bulk selects (``feed_validate.read_store``), then its new records, updates,
segments and Change rows are written in one transaction with bulk inserts and updates (a new record's segments the
file marks Internal are written as Internal; an existing record's Internal segments are never touched). Rows
deferred (waiting for an identifier a later row releases) are loaded as one last batch (``finish``). A dry
run writes nothing: it reports what it would create and update.
"""
from __future__ import annotations

import datetime as dt

import peewee as pw

from library_kiosk.central.store import bulk, changes, patron_search
from library_kiosk.central.store.db import database, is_postgres
from library_kiosk.central.store.jobs.feed_parse import CORE_FIELDS, FeedRecord
from library_kiosk.central.store.jobs.feed_validate import SEGMENTS, FeedChecks, read_store
from library_kiosk.central.store.jobs.groups import policy_values
from library_kiosk.central.store.jobs.report import JobReport
from library_kiosk.central.store.models import Change, User, UserGroup, _now


class FeedLoader:
    """Loads the batches the checks let through; a dry run counts what it would write and writes nothing."""

    def __init__(self, report: JobReport, source: str, today: dt.date, mapping: dict, dry_run: bool,
                 batch_size: int, create_groups: bool = False, group_policy: dict | None = None):
        self.report, self.source, self.today, self.dry_run = report, source, today, dry_run
        self.batch_size = batch_size
        self.group_policy = policy_values(group_policy or {})  # the policy of the groups the feed creates
        self.checks = FeedChecks(report, source, mapping, create_groups, today)
        self.written = []  # primary ids created, updated or deactivated (committed), for the kiosk documents
        self.released = {}  # dry runs: (id_type, value) -> user id, identifiers let go by rows counted as updated

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
        batch = self.checks.pending(batch)
        if not batch:
            return
        stored = read_store(batch, self.released)
        new, changed = self.checks.check(batch, stored, final)
        if self.dry_run:
            self._release(changed, stored.current)
            self.report.add_all("created", [rec.primary_id for rec in new])
            self.report.add_all("updated", [rec.primary_id for _uid, rec, _c, _s in changed])
            return
        self._commit(new, changed)

    def finish(self) -> None:
        """Load the deferred rows, all in one batch: what they wait for is written (or rejected) by now, and the
        rows waiting for each other (a rotation of identifiers) are written together."""
        self.flush(self.checks.take_deferred(), final=True)

    def _release(self, changed: list, current: dict) -> None:
        """A dry run: what these rows let go is free for the rows after them (nothing is written to free it)."""
        for uid, rec, _c, seg_diff in changed:
            if "identifiers" in seg_diff:
                sent = {ident[:2] for ident in rec.identifiers}
                for id_type, value, *_rest in current.get(uid, {}).get("identifiers", []):
                    if (id_type, value) not in sent:
                        self.released[(id_type, value)] = uid

    def _commit(self, new: list[FeedRecord], changed: list) -> None:
        """Write the batch in one transaction; if the database refuses it, record by record."""
        if self.checks.new_groups:
            self._create_groups()
        try:
            with database.atomic():
                self._write(new, changed)
        except pw.IntegrityError:
            self._write_one_by_one(new, changed)
            return
        created, updated = [rec.primary_id for rec in new], [rec.primary_id for _uid, rec, _c, _s in changed]
        self.report.add_all("created", created)
        self.report.add_all("updated", updated)
        self.written += created
        self.written += updated

    def _create_groups(self) -> None:
        """The user groups the rows so far create (``[feed] create_groups``), with the library's default policy."""
        rows = [{"code": code, "description": description, **self.group_policy}
                for code, description in self.checks.new_groups.items()]
        with database.atomic():
            UserGroup.insert_many(rows).on_conflict_ignore().execute()
        self.checks.new_groups = {}

    def _write_one_by_one(self, new: list[FeedRecord], changed: list) -> None:
        """Something the checks did not foresee (a concurrent writer, a constraint): find the row record by
        record, again while some succeed (a record may wait for another's release)."""
        items = [([rec], []) for rec in new] + [([], [item]) for item in changed]
        while items:
            failed = [item for item in items if not self._write_alone(*item, last=False)]
            if len(failed) == len(items):
                for item in failed:
                    self._write_alone(*item)
                break
            items = failed

    def _write_alone(self, new, changed, last: bool = True) -> bool:
        rec = new[0] if new else changed[0][1]
        try:
            with database.atomic():
                self._write(new, changed)
        except pw.IntegrityError as exc:
            if last:
                self.checks.reject(rec.line, rec.primary_id,
                                   f"the database refused the record: {str(exc).splitlines()[0]}")
            return False
        self.report.add("created" if new else "updated", rec.primary_id)
        self.written.append(rec.primary_id)
        return True

    def _write(self, new: list[FeedRecord], changed: list) -> None:
        now = _now()
        if not is_postgres():
            now = bulk.sqlite_value(now)  # as peewee stores it; converted once for the batch, not per row
        ids = _insert_users(new, self.source, now) if new else {}
        if changed:
            _update_users(changed, now)
        patron_search.refresh([*ids.values(), *(uid for uid, _rec, core_diff, _s in changed if core_diff)])
        _replace_segments(_new_segment_rows(new, ids), changed)
        # the batch's Change rows (what changes.record_many writes, in one statement per batch), under the
        # change sequence's writer lock so kiosks never read a later seq before this one commits (PostgreSQL)
        changes._writer_lock()
        bulk.insert(Change, ["primary_id", "kind", "created"], [(r.primary_id, "upsert", now) for r in new]
                    + [(rec.primary_id, "upsert", now) for _u, rec, _c, _s in changed])

    def deactivate(self, missing: list[tuple[int, str]], purge_days: int) -> None:
        purge = self.today + dt.timedelta(days=purge_days)
        for _uid, pid in missing:
            self.report.add("deactivated", pid)
        if self.dry_run:
            return
        for part in bulk.chunks(missing, self.batch_size):
            with database.atomic():
                User.update(status="INACTIVE", purge_date=purge, updated=_now()).where(
                    User.id.in_([uid for uid, _pid in part])).execute()
                changes.record_many([pid for _uid, pid in part])
            self.written += [pid for _uid, pid in part]


def _insert_users(new: list[FeedRecord], source: str, now) -> dict:
    """Insert the new records; their user ids by primary id."""
    names = ["primary_id", *CORE_FIELDS, "account_type", "external_id", "preferred_language", "created", "updated"]
    rows = [(r.primary_id, *r.core, "EXTERNAL", source, r.preferred_language or "en", now, now) for r in new]
    return {pid: uid for uid, pid in bulk.insert(User, names, rows, returning=("id", "primary_id"))}


def _update_users(changed: list, now) -> None:
    """The changed records' core fields where they changed, and the time of every change."""
    bulk.update_by_id(User, [*CORE_FIELDS, "preferred_language", "updated"],
                      [(*rec.core, rec.preferred_language, now, uid)
                       for uid, rec, core_diff, _s in changed if core_diff])
    touched = [uid for uid, _rec, core_diff, _s in changed if not core_diff]
    for part in bulk.chunks(touched, 1000):
        User.update(updated=now).where(User.id.in_(part)).execute()


def _new_segment_rows(new: list[FeedRecord], ids: dict) -> list[list]:
    """The new records' segment rows, every kind in one pass (in the order of SEGMENTS): External, and those the
    file marks Internal."""
    names = list(SEGMENTS)
    fresh = [[] for _name in names]
    for r in new:
        uid = ids[r.primary_id]
        for rows, name in zip(fresh, names):
            rows += [(uid, *row, "External") for row in getattr(r, name)]
        if r.internal:
            for rows, name in zip(fresh, names):
                rows += [(uid, *row, "Internal") for row in r.internal.get(name, ())]
    return fresh


def _replace_segments(fresh: list[list], changed: list) -> None:
    """Each kind of segment: delete the changed records' External rows where they differ, then insert their new
    rows and the new records' (``fresh``) in one statement."""
    for (name, (model, cols)), rows in zip(SEGMENTS.items(), fresh):
        stale = [uid for uid, _rec, _c, seg_diff in changed if name in seg_diff]
        for part in bulk.chunks(stale, 1000):
            model.delete().where(model.user.in_(part) & (model.segment_type == "External")).execute()
        rows += [(uid, *row, "External") for uid, rec, _c, seg_diff in changed if name in seg_diff
                 for row in getattr(rec, name)]
        bulk.insert(model, ["user", *cols, "segment_type"], rows)
