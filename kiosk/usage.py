"""Kiosk usage statistics: how many of each thing happened at this kiosk each day, and nothing else.

Daily counters (``usage_count``: day, counter name, value) in the kiosk's local cache
database. No primary id, identifier, name, loan or anything else about a patron is
kept or sent: only the name of what happened (from the fixed list ``COUNTERS``, or
``language_<code>``) and how many times it happened that day.

Counting must never break or slow a patron's screen: ``count`` never raises (a failure is
logged) and only adds to an in-memory tally; the tally is written once the request's view is
done (``after_this_request``: never inside one of the request's own transactions, so it cannot
spoil them), in one short transaction without an fsync, waiting at most ``BUSY_MS`` for the
write lock — if the sync worker holds it, the counts wait in memory for the next request.
A kiosk process that dies loses at most the counts not yet written. Outside a request
(tests, scripts) ``count`` writes at once; ``flush()`` writes what is left.

The sync worker sends the counters in its heartbeat (kiosk/sync.py, docs/sync.md
"Usage statistics"): ``unsent()`` gives each day's *cumulative* values of the counters
that changed since the central store last acknowledged them, and ``mark_sent`` records
what was acknowledged. The central store keeps the larger of what it has and what it
gets (an upsert, never an addition), so a resend changes nothing.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading

import peewee as pw

from kiosk import trusted_clock
from kiosk.cache_db import CacheModel, cache_db

log = logging.getLogger(__name__)

# The counters, in the order the staff station lists them (store/usage.py has their labels).
COUNTERS = (
    "sessions_tap", "sessions_barcode", "sessions_offline",
    "unknown_cards", "pins_wrong", "cards_locked", "locked_card_refused",
    "refused_expired", "refused_blocked", "accounts_shown",
    "renewals_asked", "renewals_granted", "renewals_refused", "renewals_pending",
    "requests_reports_emailed", "receipts_printed", "receipts_emailed",
    "requests_printed", "fees_emailed", "fees_printed", "receipts_at_end", "staff_calls",
    "ended_done", "ended_timeout",
    "checkouts", "returns",
)
LANGUAGE_PREFIX = "language_"
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
DAYS_PER_HEARTBEAT = 7  # a kiosk back after a long outage catches up over a few sync cycles
MAX_BYTES = 8000  # of usage JSON in one heartbeat (whose limit is 16 KB)
KEEP_DAYS = 400  # acknowledged counters older than this are removed from the kiosk


class UsageCount(CacheModel):
    day = pw.DateField()
    counter = pw.CharField(max_length=40)
    value = pw.BigIntegerField(default=0)
    sent = pw.BigIntegerField(default=0)  # the value the central store last acknowledged

    class Meta:
        primary_key = pw.CompositeKey("day", "counter")


USAGE_MODELS = [UsageCount]

_pending: dict = {}  # {database: {(day, counter): n}} counted and not yet written
_lock = threading.Lock()
BUSY_MS = 100  # how long a count waits for the write lock (the sync worker's page); then it goes with the next request


def language_counter(lang: str) -> str:
    """``language_fr`` for a language chosen on screen (``pt-BR`` -> ``language_pt_br``)."""
    return LANGUAGE_PREFIX + re.sub(r"[^a-z0-9]", "_", str(lang).lower())[:30]


def count(counter: str, n: int = 1, day: dt.date | None = None) -> None:
    """Count ``n`` of ``counter`` today (the app's day). Never raises; written when the request's view is done."""
    try:
        n = int(n)
        if n <= 0:
            return
        if counter not in COUNTERS and not (counter.startswith(LANGUAGE_PREFIX) and NAME.match(counter)):
            raise ValueError(f"unknown usage counter {counter!r}")
        from flask import current_app, g, has_request_context

        if day is None:
            day = current_app.config["TODAY"]()
        database = cache_db.obj
        if database is None:
            raise RuntimeError("the kiosk cache is not open")
        key = (day.isoformat(), counter)
        with _lock:
            counts = _pending.setdefault(database, {})
            counts[key] = counts.get(key, 0) + n
        if not has_request_context():
            flush()
        elif not g.get("usage_flush"):
            from flask import after_this_request

            g.usage_flush = True
            after_this_request(_after_request)
    except Exception:  # (a count is never worth a patron's screen)
        log.exception("usage counter %r not counted", counter)


def _after_request(response):
    """Write this request's counts once its view is done (so never inside one of its transactions)."""
    try:
        flush()
    except Exception:
        log.exception("usage counts not written")
    return response


def flush(timeout: float | None = None) -> bool:
    """Write the counts made in this process to the cache, one short transaction per database.

    Written in the calling thread, outside any transaction of the request, without an fsync
    (``synchronous=NORMAL`` for this one commit: a power cut may lose the last counts, never a
    patron's operation) and waiting at most ``BUSY_MS`` for the write lock: when the sync worker
    holds it, the counts stay in memory and go with the next request's. A failure is logged, and the
    counts are given up. Returns True when nothing is left to write."""
    with _lock:
        work = list(_pending.items())
        _pending.clear()
    left = False
    for database, counts in work:
        try:
            _write(database, counts)
        except pw.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                with _lock:  # busy: kept for the next request
                    mine = _pending.setdefault(database, {})
                    for key, n in counts.items():
                        mine[key] = mine.get(key, 0) + n
                left = True
            else:
                log.exception("%d usage counts not written", sum(counts.values()))
        except Exception:
            log.exception("%d usage counts not written", sum(counts.values()))
    return not left


def _write(database, counts: dict) -> None:
    sqlite = isinstance(database, pw.SqliteDatabase)
    opened = database.is_closed()
    if opened:
        database.connect()
    try:
        saved = None
        if sqlite:
            saved = (database.execute_sql("PRAGMA synchronous").fetchone()[0],
                     database.execute_sql("PRAGMA busy_timeout").fetchone()[0])
            database.execute_sql("PRAGMA synchronous = NORMAL")
            database.execute_sql(f"PRAGMA busy_timeout = {BUSY_MS}")
        try:
            # plain SQL on the database the count was made for (the proxy may point elsewhere by now)
            with database.atomic("IMMEDIATE") if sqlite else database.atomic():
                for (day, counter), n in counts.items():
                    database.execute_sql(
                        "INSERT INTO usage_count (day, counter, value, sent) VALUES (?, ?, ?, 0) "
                        "ON CONFLICT (day, counter) DO UPDATE SET value = usage_count.value + excluded.value"
                        .replace("?", database.param), (day, counter, n))
        finally:
            if saved is not None:
                database.execute_sql(f"PRAGMA synchronous = {int(saved[0])}")
                database.execute_sql(f"PRAGMA busy_timeout = {int(saved[1])}")
    finally:
        if opened:
            database.close()


# --- what the routes count (one line each in kiosk/routes.py) -------------------------------------

def session_started(how: str) -> None:
    """A patron identified (by card tap or typed/scanned barcode); also counted when served offline."""
    count("sessions_tap" if how == "tap" else "sessions_barcode")
    try:
        from flask import current_app

        if current_app.extensions["patron_cache"].state("central_online", "1") != "1":
            count("sessions_offline")
    except Exception:
        log.exception("offline session not counted")


def account_shown(screen) -> None:
    """The account screen for this session (counted once a session), and an expired or blocked refusal."""
    try:
        from flask import session

        if session.get("usage_shown"):
            return
        session["usage_shown"] = True
    except Exception:
        log.exception("account shown not counted")
        return
    count("accounts_shown")
    blocks = getattr(screen, "blocks", None) or []
    if getattr(screen, "expired", False):
        count("refused_expired")
    elif blocks:
        count("refused_blocked")


def renewals(outcomes) -> None:
    """Loans asked to be renewed, and how each ended (pending: renewed offline, not yet confirmed)."""
    try:
        outcomes = list(outcomes)
        count("renewals_asked", len(outcomes))
        count("renewals_granted", sum(1 for o in outcomes if o.renewed))
        count("renewals_refused", sum(1 for o in outcomes if not o.renewed))
        count("renewals_pending", sum(1 for o in outcomes if o.renewed and getattr(o, "pending", False)))
    except Exception:
        log.exception("renewals not counted")


def counted(counter: str, done: str):
    """For a service that answers with an outcome: count ``counter`` each time the outcome's ``done`` is true
    (``services.checkout``: ``checkouts`` when borrowed, lent offline too; ``services.checkin``: ``returns`` when
    returned, queued offline too). Counting never changes the answer."""
    import functools

    def wrap(service):
        @functools.wraps(service)
        def counting(*args, **kwargs):
            outcome = service(*args, **kwargs)
            if getattr(outcome, done, False) is True:
                count(counter)
            return outcome
        return counting
    return wrap


EMAILED = {"FulRequestsReportLetter": "requests_reports_emailed", "FulUserBorrowingActivityLetter": "receipts_emailed",
           "FulFinesFeesNotificationLetter": "fees_emailed"}


def emailed(letter_type: str, sent: bool) -> None:
    if sent and letter_type in EMAILED:
        count(EMAILED[letter_type])


# --- the sync worker's side ------------------------------------------------------------------------

def unsent(days: int = DAYS_PER_HEARTBEAT, max_bytes: int = MAX_BYTES) -> dict:
    """``{"YYYY-MM-DD": {counter: cumulative value}}``: the counters changed since the central store last
    acknowledged them, for the oldest ``days`` days that have any, in at most ``max_bytes`` of JSON (the
    heartbeat's limit is 16 KB); the rest go with the next heartbeats."""
    rows = list(UsageCount.select().where(UsageCount.value > UsageCount.sent)
                .order_by(UsageCount.day, UsageCount.counter))
    by_day: dict = {}
    for row in rows:
        day = row.day.isoformat() if isinstance(row.day, dt.date) else str(row.day)
        if day not in by_day and len(by_day) >= days:
            break
        by_day.setdefault(day, {})[row.counter] = row.value
    found: dict = {}
    for day, counts in by_day.items():
        if found and len(json.dumps({**found, day: counts}, separators=(",", ":"))) > max_bytes:
            break
        found[day] = counts
    return found


def redate_future(today: dt.date) -> int:
    """Move what was counted on days after ``today`` (the trusted day: counted while this kiosk's clock was ahead)
    to ``today``, so no heartbeat carries a day ahead of the central store's. Only the part the central store has
    not acknowledged moves (a counter's ``value`` beyond its ``sent``): what it holds for that day stays there and is
    not counted twice. Returns how many counts moved."""
    flush()
    moved = 0
    with cache_db.atomic():
        ahead = list(UsageCount.select().where((UsageCount.day > today) & (UsageCount.value > UsageCount.sent)))
        for row in ahead:
            extra = row.value - row.sent
            UsageCount.update(value=row.sent).where(
                (UsageCount.day == row.day) & (UsageCount.counter == row.counter)).execute()
            UsageCount.insert(day=today, counter=row.counter, value=extra, sent=0).on_conflict(
                conflict_target=[UsageCount.day, UsageCount.counter],
                update={UsageCount.value: UsageCount.value + extra}).execute()
            moved += extra
    if moved:
        log.warning("%d usage counts dated after %s (this kiosk's clock was ahead) moved to that day", moved, today)
    return moved


def mark_sent(sent: dict, today: dt.date | None = None) -> None:
    """Record what the central store acknowledged; drop acknowledged counters older than ``KEEP_DAYS``."""
    if not sent:
        return
    with cache_db.atomic():
        for day, counts in sent.items():
            for counter, value in counts.items():
                UsageCount.update(sent=pw.fn.MAX(UsageCount.sent, value) if _is_sqlite() else
                                  pw.fn.GREATEST(UsageCount.sent, value)).where(
                    (UsageCount.day == day) & (UsageCount.counter == counter)).execute()
        oldest = (today or trusted_clock.today()) - dt.timedelta(days=KEEP_DAYS)
        UsageCount.delete().where((UsageCount.day < oldest) & (UsageCount.sent >= UsageCount.value)).execute()


def _is_sqlite() -> bool:
    return isinstance(cache_db.obj, pw.SqliteDatabase)


def counts(day: dt.date | None = None) -> dict:
    """This kiosk's counters (written ones, after a flush), for one day or all: {day: {counter: value}}."""
    flush()
    query = UsageCount.select().order_by(UsageCount.day, UsageCount.counter)
    if day is not None:
        query = query.where(UsageCount.day == day)
    found: dict = {}
    for row in query:
        key = row.day.isoformat() if isinstance(row.day, dt.date) else str(row.day)
        found.setdefault(key, {})[row.counter] = row.value
    return found
