"""The patron feed: load external records from the systems that own them.

Formats: CSV with the column mapping documented in ``docs/feed.md``, and Alma's
user XML (``<users><user>...</user></users>``, the SIS synchronisation shape).

Rules (see docs/feed.md):
- a record not in the store is created EXTERNAL with ``external_id`` = the source; the segments the file marks
  ``segment_type="Internal"`` are stored as Internal;
- an existing EXTERNAL record of the same source is updated: the core fields the
  feed owns are replaced, its External segments (identifiers, emails, addresses,
  phones, statistics, notes, blocks, roles) are replaced by the file's, its Internal segments are kept
  (the file's Internal segments are ignored for it: Alma's SIS load never touches them);
- a row's user group goes through ``[feed] user_groups``; a group the store does not have rejects the row
  (naming the mapping and the store's groups), or with ``create_groups`` is created from the code and the
  file's description (``desc``), with ``group_policy`` (``[feed] new_group_policy``);
- an element name Alma's user record does not have is reported once, as a warning with its line;
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
one per kind of External segment they hold, one of the identifiers claimed (and, only
when a claimed identifier is held elsewhere, one of who holds it), then bulk
inserts/updates and the batch's Change rows in one transaction. Rows deferred
(waiting for an identifier a later row releases) are loaded as one last batch.

``load_feed`` runs the phases; each has its module: parse (``feed_parse``: the file's rows as records),
validate (``feed_validate``: the rules across the file and against the store), load (``feed_load``: the
batched writes); the report (counts, rejected rows, the kiosk documents) is the job's.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from library_kiosk.central.store.jobs.common import paused_gc, refresh_documents
from library_kiosk.central.store.jobs.feed_load import FeedLoader
from library_kiosk.central.store.jobs.feed_parse import (
    CORE_FIELDS,
    FORMATS,
    OPTIONAL_COLUMNS,
    RECORD_TYPES,
    REQUIRED_COLUMNS,
    STATUSES,
    BadRow,
    FeedFileError,
    FeedRecord,
    parse_date,
    primary_ids,
    read_alma_xml,
    read_csv,
    reader_for,
)
from library_kiosk.central.store.jobs.feed_validate import SEGMENTS, resolve_group, unknown_group
from library_kiosk.central.store.jobs.report import (
    DOCUMENTS_PHASE,
    JobRefused,
    JobReport,
    Progress,
    phase_progress,
    run_job,
)
from library_kiosk.central.store.models import User
from library_kiosk.domain.codes import SOURCE_SYSTEMS

__all__ = ["BadRow", "CORE_FIELDS", "FORMATS", "FeedFileError", "FeedRecord", "OPTIONAL_COLUMNS", "RECORD_TYPES",
           "REQUIRED_COLUMNS", "SEGMENTS", "STATUSES", "load_feed", "parse_date", "primary_ids", "read_alma_xml",
           "read_csv", "reader_for", "resolve_group", "unknown_group"]

COUNTS = ("created", "updated", "unchanged", "rejected", "deactivated")  # in every report, from 0


def load_feed(path, *, fmt: str, source: str, operator: str, today: dt.date, full: bool = False,
              dry_run: bool = False, group_mapping: dict | None = None, missing_purge_days: int = 90,
              max_deactivate_share: float = 0.10, encoding: str = "utf-8", batch_size: int = 1000,
              progress: Progress | None = None, documents: bool = True, create_groups: bool = False,
              group_policy: dict | None = None) -> JobReport:
    """Load a feed file; returns the job report (counts: created, updated, unchanged, rejected, deactivated, and
    for a real run documents_prepared). ``progress(done, total)`` counts the file's records, then (a real run,
    ``documents``) the kiosk documents of the records changed, as the phase ``DOCUMENTS_PHASE`` (passed as a
    third argument if ``progress`` takes one). ``create_groups``: a user group the store does not have is created
    (with ``group_policy``, UserGroup fields) instead of rejecting the row (counted as groups_created)."""
    job = _FeedJob(path, fmt, source, today, full, dry_run, group_mapping, missing_purge_days,
                   max_deactivate_share, encoding, batch_size, progress, documents, create_groups,
                   dict(group_policy or {}))
    return run_job("feed", job.parameters(), operator, dry_run, job.run)


@dataclass(slots=True)
class _FeedJob:
    """One feed load: its parameters, and its phases in the order ``run`` goes through them."""
    path: object
    fmt: str
    source: str
    today: dt.date
    full: bool
    dry_run: bool
    group_mapping: dict | None
    missing_purge_days: int
    max_deactivate_share: float
    encoding: str
    batch_size: int
    progress: Progress | None
    documents: bool
    create_groups: bool = False
    group_policy: dict | None = None

    def parameters(self) -> dict:
        """The parameters stored with the run."""
        return {"file": str(self.path), "format": self.fmt, "source": self.source, "full": self.full,
                "encoding": self.encoding, "missing_purge_days": self.missing_purge_days,
                "max_deactivate_share": self.max_deactivate_share, "create_groups": self.create_groups}

    def run(self, report: JobReport) -> None:
        """The job's body (``run_job``): refuse unknown parameters, survey the file, load it, deactivate the
        records missing from a full feed, then prepare the kiosk documents of the records written."""
        loader = FeedLoader(report, self.source, self.today, dict(self.group_mapping or {}), self.dry_run,
                            self.batch_size, self.create_groups, self.group_policy)
        read = self._reader()
        for key in COUNTS:
            report.counts[key] = 0
        try:
            total, missing = self._survey(loader)
            self._load(loader, read, total)
        except FeedFileError as exc:
            raise JobRefused(f"{self.path}: {exc}") from None
        if self.full:
            loader.deactivate(missing, self.missing_purge_days)
        if self.documents and not self.dry_run:  # the records are committed: the kiosks' documents, ahead of their sync
            self._prepare_documents(report, loader.written)

    def _reader(self):
        """The file's reader; refused for an unknown source or format."""
        if self.source not in SOURCE_SYSTEMS:
            raise JobRefused(f"unknown source {self.source!r} (one of {', '.join(SOURCE_SYSTEMS)})")
        return reader_for(self.fmt, self.path, self.encoding)

    def _survey(self, loader: FeedLoader) -> tuple[int, list[tuple[int, str]]]:
        """The first pass, before any change: the number of records in the file and their primary ids (the
        records this feed updates); for a full feed, the records it deactivates, refused over the allowed share."""
        seen, total = set(), 0
        for pid in primary_ids(self.fmt, self.path, self.encoding):
            total += 1
            if pid:
                seen.add(pid)
        loader.checks.seen = seen
        missing = loader.missing_records(seen) if self.full else []
        if missing:
            self._refuse_over_share(missing)
        return total, missing

    def _refuse_over_share(self, missing: list) -> None:
        active = User.select().where((User.account_type == "EXTERNAL") & (User.external_id == self.source)
                                     & (User.status == "ACTIVE")).count()
        share = len(missing) / active
        if share > self.max_deactivate_share:
            raise JobRefused(
                f"the feed would deactivate {len(missing):,} of {active:,} active {self.source} records "
                f"({share:.1%}, more than the {self.max_deactivate_share:.0%} allowed); nothing was changed")

    def _load(self, loader: FeedLoader, read, total: int) -> None:
        """Parse, check and load the file's records in batches, with progress after each batch's worth."""
        take, batch_size, progress = loader.checks.take, self.batch_size, self.progress
        done = 0
        batch = []
        with paused_gc():
            for item in read():
                take(item, batch)
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

    def _prepare_documents(self, report: JobReport, written: list[str]) -> None:
        """The report phase: the kiosk documents of the records written, and how many were prepared."""
        prepared = refresh_documents(written, phase_progress(self.progress, DOCUMENTS_PHASE))
        report.counts["documents_prepared"] = prepared or 0
        if prepared is None:
            report.message = "kiosk documents not prepared (database busy); the first kiosk sync builds them"
