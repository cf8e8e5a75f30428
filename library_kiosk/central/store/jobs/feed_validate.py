"""The patron feed's validate phase: the rules a parsed row must pass before it is loaded.

Against the file (``FeedChecks.take``, row by row): a primary id once, a known user group, an identifier on
one row only (unless the record that holds it in the store takes it back). Against the store
(``FeedChecks.check``, a batch at a time, from the bulk selects of ``read_store``): a record of this source,
identifiers nobody else keeps, and what the row changes. A row taking an identifier another record of the
feed releases waits for that record's row (``FeedChecks.settle``). A row that fails is rejected with its
line and reason (docs/feed.md); the load phase (``feed_load``) writes the rest.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from library_kiosk.central.store import bulk, limits
from library_kiosk.central.store.jobs.feed_parse import CORE_FIELDS, BadRow, FeedRecord, FeedWarning
from library_kiosk.central.store.jobs.report import JobReport
from library_kiosk.central.store.limits import LENGTHS
from library_kiosk.central.store.models import (
    Address,
    Block,
    Email,
    Identifier,
    Note,
    Phone,
    Statistic,
    User,
    UserGroup,
    UserRole,
)

# Segments the feed owns, with the columns compared and written (all but user and segment_type).
SEGMENTS = {
    "identifiers": (Identifier, ("id_type", "value", "status", "note")),
    "emails": (Email, ("email_address", "email_types", "preferred")),
    "addresses": (Address, ("line1", "line2", "line3", "line4", "line5", "city", "state_province", "postal_code",
                            "country", "address_types", "preferred", "start_date", "end_date")),
    "phones": (Phone, ("phone_number", "phone_types", "preferred", "preferred_sms")),
    "statistics": (Statistic, ("statistic_category", "category_type", "statistic_note")),
    "notes": (Note, ("note_type", "note_text", "user_viewable", "popup_note")),
    "blocks": (Block, ("block_type", "block_description", "block_status", "expiry_date")),
    "roles": (UserRole, ("role_type", "scope", "status")),
}
# Per segment, the (position, column, most characters) of its columns that have a limit (store/limits.py).
_SEGMENT_LIMITS = {name: tuple((at, col, LENGTHS[model.__name__][col].most) for at, col in enumerate(cols)
                               if col in LENGTHS[model.__name__]) for name, (model, cols) in SEGMENTS.items()}
_EXPIRY_AT, _BIRTH_AT = CORE_FIELDS.index("expiry_date"), CORE_FIELDS.index("birth_date")
KNOWN_GROUPS_SHOWN = 20  # an unknown group's message lists at most this many of the store's groups
_GROUP_AT = CORE_FIELDS.index("user_group")


def resolve_group(code: str, mapping: dict, groups: set) -> str | None:
    """The user group for a code in the file: through the ``[feed] user_groups`` mapping, else as is."""
    target = mapping.get(code, code)
    return target if target in groups else None


def unknown_group(code: str, mapping: dict, groups: set) -> str:
    """Why a row's user group is refused: the mapping it went through, and the groups the store has."""
    if not groups:
        return (f"unknown user group {code!r}: the store has no user groups yet (create them at the station's "
                f"Administration page or with `kiosk admin groups import FILE`, or set [feed] create_groups = true)")
    known = sorted(groups)
    shown = ", ".join(known[:KNOWN_GROUPS_SHOWN]) + (f" and {len(known) - KNOWN_GROUPS_SHOWN:,} more"
                                                     if len(known) > KNOWN_GROUPS_SHOWN else "")
    if code in mapping:
        how = f"[feed] user_groups maps it to {mapping[code]!r}, which the store does not have"
    else:
        how = "not in [feed] user_groups, nor a group of the store"
    return f"unknown user group {code!r} ({how}; the store's groups: {shown})"


def limit_problem(rec: FeedRecord, today: dt.date | None) -> str:
    """Why the row breaks the store's limits (store/limits.py): a segment's value too long, an expiry date more
    than ten years ahead, a birth date in the future or before 1900; '' when it keeps them. (The names are
    checked while the row is read, ``feed_parse``.)"""
    for name, checked in _SEGMENT_LIMITS.items():
        rows = getattr(rec, name)
        if rec.internal and name in rec.internal:
            rows = [*rows, *rec.internal[name]]
        for row in rows:
            for at, col, most in checked:
                value = row[at]
                if isinstance(value, str) and len(value) > most:
                    return f"{col} is longer than {most} characters"
    if today is not None:
        expiry, birth = rec.core[_EXPIRY_AT], rec.core[_BIRTH_AT]
        problem = expiry and limits.expiry_problem(expiry, today, f"expiry_date {expiry.isoformat()}")
        if not problem and birth:
            problem = limits.birth_date_problem(birth, today)
        if problem:
            return problem.rstrip(".")
    return ""


def _norm(value) -> str:
    if type(value) is str:  # most values: as they are
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    return str(value)


def _canon(rows) -> list:
    return sorted(tuple(_norm(v) for v in row) for row in rows)


# --- what the store holds for a batch ---------------------------------------------------------------------


@dataclass(slots=True)
class StoredBatch:
    """What the store holds for one batch: three bulk selects, and a fourth (the holders of the identifiers the
    batch claims) only when a row claims one another record holds."""
    existing: dict  # primary id -> (id, primary_id, account_type, external_id, preferred_language, *CORE_FIELDS)
    held: dict  # (id_type, value) -> (user id, segment type) of the batch's identifiers in the store
    current: dict  # user id -> {segment name: its External rows, canonical}
    _owners: dict | None = None

    def owners(self) -> dict:
        """User id -> (primary_id, account_type, external_id) of the holders of the batch's identifiers."""
        if self._owners is None:
            owners = {row[0]: (row[1], row[2], row[3]) for row in self.existing.values()}
            others = list({uid for uid, _segment in self.held.values() if uid not in owners})
            for uid, pid, account_type, source in bulk.select_in(User, ["id", "primary_id", "account_type",
                                                                        "external_id"], "id", others):
                owners[uid] = (pid, account_type, source)
            self._owners = owners
        return self._owners


def read_store(batch: list[FeedRecord], released: dict) -> StoredBatch:
    """The batch's existing records, the holders of its identifiers and the records' External segments.
    ``released`` (dry runs): identifiers earlier rows let go, free although the store still holds them."""
    existing = {}
    for row in bulk.select_in(User, ["id", "primary_id", "account_type", "external_id", "preferred_language",
                                     *CORE_FIELDS], "primary_id", [r.primary_id for r in batch]):
        existing[row[1]] = row
    held = {}
    values = [v for r in batch for _t, v, _s, _n in r.identifiers]
    values += [v for r in batch if r.internal for _t, v, _s, _n in r.internal.get("identifiers", ())]
    for id_type, value, uid, segment in bulk.select_in(Identifier, ["id_type", "value", "user", "segment_type"],
                                                       "value", values):
        held[(id_type, value)] = (uid, segment)
    if released:  # a dry run: what earlier rows let go (not written) is free
        held = {key: owner for key, owner in held.items() if released.get(key) != owner[0]}
    return StoredBatch(existing, held, _external_segments([row[0] for row in existing.values()]))


def _external_segments(user_ids: list[int]) -> dict:
    found = {}
    if not user_ids:
        return found
    for name, (model, cols) in SEGMENTS.items():
        rows = {}
        for row in bulk.select_in(model, ["user", "segment_type", *cols], "user", user_ids):
            if row[1] == "External":
                rows.setdefault(row[0], []).append(row[2:])
        for uid, items in rows.items():
            found.setdefault(uid, {})[name] = _canon(items)
    return found


# --- the checks --------------------------------------------------------------------------------------------


class FeedChecks:
    """The rules across the rows of one feed file, and what they need to remember: the rows seen so far, the
    identifiers they claim, the rows rejected and the rows waiting for another row's identifier."""

    def __init__(self, report: JobReport, source: str, mapping: dict, create_groups: bool = False,
                 today: dt.date | None = None):
        self.report, self.source, self.mapping, self.create_groups = report, source, mapping, create_groups
        self.today = today  # the dates' range (store/limits.py) is checked against it, when given
        self.groups = {g for (g,) in UserGroup.select(UserGroup.code).tuples()}
        self.new_groups = {}  # code -> description: groups the file's rows create (create_groups), not yet written
        self.lines = {}  # primary id -> line, for duplicates in the file
        self.claimed = {}  # (id_type, value) -> (line, primary id), for identifiers shared across records
        self.seen: set = set()  # the file's primary ids (load_feed's first pass): the records this feed updates
        self.deferred = []  # rows waiting for an identifier another row of the file releases (see settle)
        self.dropped = set()  # lines of taken rows rejected later (another row's identifier), skipped by pending
        self.failed = set()  # lines of rejected rows
        self.bad = {}  # primary id -> line of its first row rejected while read (not in self.lines)

    def reject(self, line: int, pid: str, reason: str) -> None:
        self.failed.add(line)
        self.report.add("rejected", {"line": line, "primary_id": pid, "reason": reason})

    # --- a row against the rows before it

    def take(self, item, batch: list) -> None:
        """Add the parsed ``item`` to ``batch`` if it passes the checks across the file, else reject it."""
        if not isinstance(item, FeedRecord):
            self._not_a_record(item)
            return
        rec: FeedRecord = item
        problem = limit_problem(rec, self.today)
        if problem:
            self.reject(rec.line, rec.primary_id, problem)
            return
        if rec.primary_id in self.lines:
            self.reject(rec.line, rec.primary_id, f"primary_id also on line {self.lines[rec.primary_id]}")
            return
        self.lines[rec.primary_id] = rec.line
        code = rec.core[_GROUP_AT]
        group = resolve_group(code, self.mapping, self.groups)
        if group is None:
            group = self._new_group(rec, code)
            if group is None:
                return
        rec.core[_GROUP_AT] = group
        keys = [(t, v) for t, v, _s, _n in rec.identifiers]
        if rec.internal and "identifiers" in rec.internal:
            keys += [(t, v) for t, v, _s, _n in rec.internal["identifiers"]]
        if len(keys) > 1 and len(set(keys)) != len(keys):
            self.reject(rec.line, rec.primary_id, "the same identifier twice in one record")
            return
        claimed = self.claimed
        for key in keys:
            if key in claimed:
                line, other = claimed[key]
                if not self._holder_wins(rec, key, line, other, batch):
                    self.reject(rec.line, rec.primary_id,
                                f"identifier {key[0]} {key[1]} is also on line {line} (primary_id {other})")
                    return
        mark = (rec.line, rec.primary_id)
        for key in keys:
            claimed[key] = mark
        batch.append(rec)

    def _not_a_record(self, item: BadRow | FeedWarning) -> None:
        """A row that could not be read is rejected; a warning is reported."""
        if isinstance(item, FeedWarning):
            self.report.add("warnings", {"line": item.line, "warning": item.message})
            return
        self.reject(item.line, item.primary_id, item.reason)
        if item.primary_id:
            self.bad.setdefault(item.primary_id, item.line)

    def _new_group(self, rec: FeedRecord, code: str) -> str | None:
        """With ``[feed] create_groups``, the group the row's code names (through the mapping), created from the
        code and the file's description; else the row is rejected (None)."""
        target = self.mapping.get(code, code)
        if not self.create_groups:
            self.reject(rec.line, rec.primary_id, unknown_group(code, self.mapping, self.groups))
            return None
        if len(target) > 40:
            self.reject(rec.line, rec.primary_id, f"user group {target!r} is longer than 40 characters")
            return None
        description = (rec.group_description or target)[:200]
        self.groups.add(target)
        self.new_groups[target] = description
        self.report.add("groups_created", {"line": rec.line, "code": target, "description": description})
        return target

    def _holder_wins(self, rec: FeedRecord, key: tuple, line: int, other: str, batch: list) -> bool:
        """Two rows claim ``key``: if ``rec``'s record holds it in the store, ``rec`` keeps it and the earlier row
        (which cannot have been written: it waits for the holder, see settle) is rejected, whatever the order."""
        holder = (User.select(User.primary_id).join(Identifier)
                  .where((Identifier.id_type == key[0]) & (Identifier.value == key[1])).scalar())
        if holder != rec.primary_id:
            return False
        earlier = next((r for r in (*batch, *self.deferred) if r.line == line and r.primary_id == other), None)
        if earlier is None or line in self.dropped:  # already rejected for another reason: its claim is void
            return earlier is None and line in self.failed
        self.dropped.add(line)
        self.reject(line, other, f"identifier {key[0]} {key[1]} is also on line {rec.line} "
                                 f"(primary_id {rec.primary_id}, the record that holds it)")
        mark = (line, other)
        for ident in earlier.identifiers:  # its other claims are free again
            if self.claimed.get(ident[:2]) == mark:
                del self.claimed[ident[:2]]
        return True

    def pending(self, batch: list[FeedRecord]) -> list[FeedRecord]:
        """The batch without the rows rejected since they were taken (another row took their identifier)."""
        return [r for r in batch if r.line not in self.dropped] if self.dropped else batch

    def take_deferred(self) -> list[FeedRecord]:
        """The rows waiting for another row's identifier, handed over to be loaded last."""
        deferred, self.deferred = self.deferred, []
        return deferred

    # --- a batch against the store

    def check(self, batch: list[FeedRecord], stored: StoredBatch, final: bool) -> tuple[list, list]:
        """The batch's rows to create and to update (``(uid, rec, core_diff, seg_diff)``); the others are rejected,
        counted unchanged, or deferred (see ``settle``)."""
        new, changed = [], []
        waits_of = {}  # line -> (rec, [(key, holder's user id)]): rows taking released identifiers
        for rec in batch:
            row = stored.existing.get(rec.primary_id)
            if not self._fed_here(rec, row):
                continue
            if rec.internal:
                if row is not None:
                    rec.internal = None  # an existing record's Internal segments are the library's: never touched
                elif not self._internal_identifiers_free(rec, stored):
                    continue
            # (none of the batch's identifiers in the store, as in a first load: nothing to check)
            if stored.held and not self._take_identifiers(rec, row[0] if row else None, stored, waits_of):
                continue
            if row is None:
                new.append(rec)
                continue
            change = _change(rec, row, stored.current)
            if change:
                changed.append(change)
            else:
                self.report.count("unchanged")
        if waits_of:
            new, changed = self.settle(waits_of, new, changed, stored, final)
        return new, changed

    def _fed_here(self, rec: FeedRecord, row: tuple | None) -> bool:
        """Whether the stored record (if any) is this source's to update; else the row is rejected."""
        if row and row[2] != "EXTERNAL":
            self.reject(rec.line, rec.primary_id, "an INTERNAL record with this primary_id exists (not fed)")
            return False
        if row and row[3] != self.source:
            self.reject(rec.line, rec.primary_id, f"the record belongs to source {row[3] or '(none)'}")
            return False
        return True

    def _internal_identifiers_free(self, rec: FeedRecord, stored: StoredBatch) -> bool:
        """A new record's identifiers marked Internal: stored as Internal, if no other record holds them."""
        for id_type, value, *_rest in rec.internal.get("identifiers", ()):
            owner = stored.held.get((id_type, value))
            if owner is not None:
                pid = stored.owners().get(owner[0], ("?",))[0]
                self.reject(rec.line, rec.primary_id,
                            f"identifier {id_type} {value} (Internal) belongs to another record (primary_id {pid})")
                return False
        return True

    def _take_identifiers(self, rec: FeedRecord, uid: int | None, stored: StoredBatch, waits_of: dict) -> bool:
        """Keep the row's identifiers it may have (noting those it waits for in ``waits_of``), or reject it."""
        kept, waits, conflict = self._sort_identifiers(rec, uid, stored)
        if conflict:
            (id_type, value, *_rest), why = conflict
            self.reject(rec.line, rec.primary_id, f"identifier {id_type} {value} belongs to another record ({why})")
            return False
        rec.identifiers = kept
        if waits:
            waits_of[rec.line] = (rec, waits)
        return True

    def _sort_identifiers(self, rec: FeedRecord, uid: int | None, stored: StoredBatch):
        """``(kept, waits, conflict)``: the identifiers the row keeps, the ``(key, holder)`` of those another record
        of this feed releases, and the first one another record keeps, with why (else None)."""
        kept, waits = [], []
        for ident in rec.identifiers:
            owner = stored.held.get(ident[:2])
            if owner is None or (owner[0] == uid and owner[1] == "External"):
                kept.append(ident)
            elif owner[0] == uid:  # the record holds it as an Internal segment: staff's copy stays
                continue
            else:  # another record's: free only if that record's row in this feed lets it go
                why = self.kept_by(owner, stored.owners())  # (a holder in this batch: settle decides)
                if why:
                    return kept, waits, (ident, why)
                kept.append(ident)
                waits.append((ident[:2], owner[0]))
        return kept, waits, None

    def kept_by(self, owner: tuple, owners: dict, final: bool = False) -> str:
        """Why the holder keeps an identifier whatever this feed says ('' if its row in this feed may let it go;
        ``final``: its row is done, written or rejected)."""
        uid, segment = owner
        pid, account_type, source = owners.get(uid, ("?", "", ""))
        if account_type != "EXTERNAL":
            return f"primary_id {pid}, an INTERNAL record the feed does not update"
        if segment != "External":
            return f"primary_id {pid}, added by the library (Internal), kept by the feed"
        if source != self.source:
            return f"primary_id {pid}, a record of source {source or '(none)'}"
        if pid not in self.seen:
            return f"primary_id {pid}, not in this feed"
        line = self.lines.get(pid)
        if line is None and final:
            line = self.bad.get(pid)  # (before the end, a good row of that primary id may come)
        if line in self.failed or (final and line is None):
            return f"primary_id {pid}, whose row " + (f"on line {line} " if line else "in this feed ") + "is rejected"
        return f"primary_id {pid}, whose row on line {line} keeps it" if final else ""

    def settle(self, waits_of: dict, new: list, changed: list, stored: StoredBatch, final: bool):
        """Decide the rows that take identifiers other records release: a row goes ahead when every holder's row
        is written in the same batch (and goes ahead itself); it waits (deferred) for a holder elsewhere in the
        file, and is rejected when the holder keeps it. With ``final`` nothing waits any more."""
        releasing = {uid: rec.line for uid, rec, _c, seg_diff in changed if "identifiers" in seg_diff}
        verdict = _verdicts(waits_of, releasing, {row[0] for row in stored.existing.values()}, final)
        if not verdict:
            return new, changed
        owners = stored.owners()
        for line, decided in sorted(verdict.items()):
            rec = waits_of[line][0]
            if decided is None:
                self.deferred.append(rec)
                continue
            (id_type, value), holder = decided
            pid = owners.get(holder, ("?",))[0]
            why = self.kept_by((holder, "External"), owners, True) if holder not in releasing else (
                f"primary_id {pid}, whose row on line {releasing[holder]} is rejected")
            self.reject(rec.line, rec.primary_id, f"identifier {id_type} {value} belongs to another record ({why})")
        new = [rec for rec in new if rec.line not in verdict]
        changed = [item for item in changed if item[1].line not in verdict]
        return new, changed


def _change(rec: FeedRecord, row: tuple, current: dict) -> tuple | None:
    """``(uid, rec, core_diff, seg_diff)`` if the row changes the stored record ``row``, else None (unchanged)."""
    uid = row[0]
    core_diff = any(_norm(ours) != _norm(theirs) for ours, theirs in zip(row[5:], rec.core))
    if rec.preferred_language and rec.preferred_language != row[4]:
        core_diff = True  # the file names a language: it replaces ours
    rec.preferred_language = rec.preferred_language or row[4]  # none named: staff's choice stays
    mine = current.get(uid, {})
    seg_diff = [name for name in SEGMENTS if _canon(getattr(rec, name)) != mine.get(name, [])]
    return (uid, rec, core_diff, seg_diff) if core_diff or seg_diff else None


def _verdicts(waits_of: dict, releasing: dict, in_batch: set, final: bool) -> dict:
    """Line -> None (deferred) or ``(key, holder)`` (rejected) for the waiting rows that cannot go ahead: the
    holder's row is not written in this batch (``releasing``: holder -> its line), or waits or is rejected
    itself. Undecided lines go ahead."""
    verdict = {}
    moved = True
    while moved:
        moved = False
        for line, (_rec, waits) in waits_of.items():
            if line in verdict:
                continue
            for key, holder in waits:
                at = releasing.get(holder)
                if at is None:  # the holder's row is not in this batch, or not written
                    decided = (key, holder) if final or holder in in_batch else None
                elif at in verdict:  # the holder's row waits itself, or is rejected
                    decided = None if verdict[at] is None and not final else (key, holder)
                else:
                    continue
                verdict[line] = decided
                moved = True
                break
    return verdict
