"""The kiosk's trusted clock: this box's clock corrected by the central store's (issue 21, docs/sync.md
"Trusted time").

A kiosk's own clock can be wrong (a dead RTC battery, no NTP on the library's network, a hand-set date):
40 days fast, it made patrons look expired and loans overdue, and would promise offline due dates from the
wrong day. So every date the kiosk decides with (blocks, expiry, overdue, offline renewals, lockouts, usage
days, the time queued operations carry) comes from here, not from ``library_kiosk.domain.clock`` directly.

How the time is learnt. Every answer of the central store carries its time in the ``X-Central-Time`` header
(UTC, ISO with milliseconds, read from the central store's own product clock when the answer was made;
``library_kiosk/central/api/__init__.py``). The HTTP ``Date`` header is not used: it has whole seconds only and
comes from the web server's system clock, not the product's. The client (``kiosk/central_client.py``) reads
this kiosk's clock just before it sends a request and just after the answer's headers arrive, and keeps the
latest ``Sample``. The central store's time is taken as that of the midpoint of the round trip (wrong by at
most half of it); a sample whose round trip took longer than ``MAX_ROUND_TRIP`` is not used. The sync worker
keeps it in the cache's sync state (``learn``: after each pull, push and heartbeat), where the web app's
processes read it:

- ``time_offset_ms``: the central store's time minus this kiosk's (0 when the difference is within the
  sample's uncertainty or under ``NOISE``: no evidence this clock is wrong);
- ``time_learnt_at``: the central store's time when it was learnt (UTC, ``...Z``);
- ``time_learnt_local``: this kiosk's own time then, to notice its clock being set back since;
- ``time_round_trip_ms``.

``now()`` and ``today()`` are this kiosk's clock plus the offset. Time is **trusted** when it was learnt no
more than ``[kiosk] trusted_time_hours`` ago (by the corrected clock). Without trusted time the kiosk still
shows accounts (by its best guess), but refuses what it would otherwise decide alone by the date: offline
renewals (kiosk/services.py). If this kiosk's clock is set back past the moment the offset was learnt (the
clock was corrected meanwhile), the offset no longer applies: the kiosk's own clock is used, untrusted, until
the next exchange.

No Flask here: the state is read with peewee from the cache database (``kiosk.cache_db``), which must be
connected (a request, the sync worker). A read that fails falls back to this kiosk's own clock.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import peewee as pw

from kiosk.cache_db import SyncState, cache_db
from library_kiosk.domain import clock

log = logging.getLogger(__name__)

HEADER = "X-Central-Time"  # the central store's time on each of its answers
MAX_ROUND_TRIP = dt.timedelta(seconds=10)  # a slower exchange says too little about the time: not used
NOISE = dt.timedelta(seconds=1)  # differences smaller than this (or than half the round trip) are taken as none
STEPPED_BACK = dt.timedelta(minutes=1)  # this kiosk's clock set back by more than this since learning: offset void
DEFAULT_HOURS = 24.0  # [kiosk] trusted_time_hours (library_kiosk/settings)
KEYS = ("time_offset_ms", "time_learnt_at", "time_learnt_local", "time_round_trip_ms")
UNTRUSTED = ("this kiosk has not learnt the time from the central store within [kiosk] trusted_time_hours: "
             "nothing that depends on the date is decided here")


@dataclass(frozen=True)
class Sample:
    """One answer's time: the central store's (``central``) and this kiosk's just before sending and just after
    the answer arrived (all naive UTC)."""
    central: dt.datetime
    sent: dt.datetime
    received: dt.datetime

    @property
    def round_trip(self) -> dt.timedelta:
        return self.received - self.sent

    @property
    def offset(self) -> dt.timedelta:
        """The central store's time minus this kiosk's, at the midpoint of the round trip."""
        midpoint = self.sent + self.round_trip / 2
        found = self.central - midpoint
        if abs(found) <= max(NOISE, self.round_trip / 2):
            return dt.timedelta(0)
        return found

    @property
    def usable(self) -> bool:
        return dt.timedelta(0) <= self.round_trip <= MAX_ROUND_TRIP


def parse_header(value: str | None) -> dt.datetime | None:
    """``X-Central-Time`` as naive UTC; None when missing or not a time."""
    if not value or not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().removesuffix("Z"))
    except ValueError:
        return None
    return moment if moment.tzinfo is None else moment.astimezone(dt.UTC).replace(tzinfo=None)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds") + "Z"


def learn(sample: Sample | None) -> bool:
    """Keep ``sample`` as this kiosk's trusted time (in the cache's sync state); False when it is not usable."""
    if sample is None or not sample.usable:
        return False
    offset_ms = round(sample.offset.total_seconds() * 1000)
    values = {"time_offset_ms": str(offset_ms), "time_learnt_at": _iso(sample.central),
              "time_learnt_local": _iso(sample.received),
              "time_round_trip_ms": str(round(sample.round_trip.total_seconds() * 1000))}
    with cache_db.atomic():
        for name, value in values.items():
            SyncState.replace(name=name, value=value).execute()
    return True


@dataclass(frozen=True)
class Reading:
    """What the cache holds of the trusted time, read against this kiosk's clock ``raw`` (naive UTC)."""
    raw: dt.datetime
    offset: dt.timedelta = dt.timedelta(0)
    learnt_at: dt.datetime | None = None  # the central store's time when learnt
    problem: str = ""  # why the offset is not applied ("" when it is, or none was learnt)

    @property
    def now(self) -> dt.datetime:
        return self.raw + self.offset

    def age(self) -> dt.timedelta | None:
        return None if self.learnt_at is None else self.now - self.learnt_at

    def trusted(self, hours: float = DEFAULT_HOURS) -> bool:
        age = self.age()
        return (not self.problem and age is not None
                and -STEPPED_BACK <= age <= dt.timedelta(hours=float(hours)))


def reading(raw: dt.datetime | None = None) -> Reading:
    """The trusted time as the cache holds it now (this kiosk's clock when none, or when it cannot be read)."""
    raw = raw or clock.now()
    try:
        rows = {row.name: row.value for row in SyncState.select().where(SyncState.name.in_(KEYS))}
    except (pw.PeeweeException, AttributeError) as exc:  # not connected, no table yet: this kiosk's clock
        log.warning("trusted time not read (%s): this kiosk's own clock is used", exc)
        return Reading(raw, problem="not read")
    return reading_from(rows, raw)


def reading_from(rows: dict, raw: dt.datetime) -> Reading:
    """The trusted time from the sync state's rows (``KEYS``), against this kiosk's clock ``raw``."""
    learnt_at = parse_header(rows.get("time_learnt_at"))
    learnt_local = parse_header(rows.get("time_learnt_local"))
    try:
        offset = dt.timedelta(milliseconds=int(rows.get("time_offset_ms", "0") or 0))
    except ValueError:
        offset = dt.timedelta(0)
    if learnt_at is None:
        return Reading(raw, problem="never learnt" if not rows else "unreadable")
    if learnt_local is not None and raw < learnt_local - STEPPED_BACK:
        return Reading(raw, dt.timedelta(0), learnt_at,
                       problem="this kiosk's clock was set back since the time was learnt")
    return Reading(raw, offset, learnt_at)


def now() -> dt.datetime:
    """The current instant, naive UTC, corrected by the central store's time."""
    return reading().now


def today() -> dt.date:
    """The local calendar day (the machine's time zone, as ``clock.today``), corrected."""
    return local_day(now())


def local_day(moment: dt.datetime) -> dt.date:
    """The local calendar day of a naive UTC instant."""
    return moment.replace(tzinfo=dt.UTC).astimezone().date()


def trusted(hours: float = DEFAULT_HOURS) -> bool:
    """Whether the time was learnt from the central store within ``hours`` (``[kiosk] trusted_time_hours``)."""
    return reading().trusted(hours)


def summary(hours: float = DEFAULT_HOURS, found: Reading | None = None) -> dict:
    """For staff (``kiosk sync status``, the heartbeat, ``kiosk doctor``): trusted or not, the offset, when it was
    learnt."""
    found = found or reading()
    age = found.age()
    return {
        "trusted": found.trusted(hours),
        "offset_seconds": round(found.offset.total_seconds(), 3),
        "learnt_at": _iso(found.learnt_at) if found.learnt_at else None,
        "age_hours": round(age.total_seconds() / 3600, 2) if age is not None else None,
        "trusted_time_hours": float(hours),
        "problem": found.problem or ("" if found.trusted(hours) else "not learnt within trusted_time_hours"),
    }
