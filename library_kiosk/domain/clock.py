"""The product's one clock.

Everything that stamps a record or asks what day it is reads this module, never
``datetime.now()`` or ``date.today()`` directly, so the time can be set in one
place: by a test that pins its day, or by a tool that replays a day.

- ``now()`` is the current instant as naive UTC, the way the databases store it.
- ``today()`` is the calendar day where the machine is, in its local time zone
  (the library's: ``TZ`` or ``/etc/localtime``). Membership expiry, due dates and
  job cut-offs are local days, so a patron whose card expires today can still use
  it until local midnight, not until UTC midnight.

The clock keeps ticking when it is shifted: ``shifted_to(day)`` moves it so that
local time is noon on ``day`` now and runs on from there, so code that measures
elapsed time (lockouts, timeouts, freshness) behaves as on any real day.

``KIOSK_CLOCK_DAY=YYYY-MM-DD`` in the environment starts a process on that day the
same way (noon local time, then ticking): the tests set it so that the servers they
start agree with them on the day; a library can use it for a training copy. Leave it
unset in production.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator, Mapping

_offset = dt.timedelta(0)


def now() -> dt.datetime:
    """The current instant, naive UTC."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None) + _offset


def now_aware() -> dt.datetime:
    """The current instant, UTC with its zone."""
    return dt.datetime.now(dt.UTC) + _offset


def local_now() -> dt.datetime:
    """The current local time (the machine's time zone), with its zone."""
    return now_aware().astimezone()


def today() -> dt.date:
    """The local calendar day."""
    return local_now().date()


def offset() -> dt.timedelta:
    """How far the clock is moved from the system clock (zero in production)."""
    return _offset


def set_offset(value: dt.timedelta) -> None:
    global _offset
    _offset = value


def offset_to(day: dt.date, at: dt.time = dt.time(12)) -> dt.timedelta:
    """The offset that makes the local time ``at`` on ``day`` now."""
    wanted = dt.datetime.combine(day, at).astimezone()  # local wall time on that day, with that day's zone
    return wanted - dt.datetime.now(dt.UTC)


ENVIRONMENT = "KIOSK_CLOCK_DAY"


def from_environment(environ: Mapping[str, str] = os.environ) -> None:
    """Shift the clock to noon on ``KIOSK_CLOCK_DAY`` if it is set (read once, when this module loads)."""
    day = environ.get(ENVIRONMENT, "").strip()
    if day:
        set_offset(offset_to(dt.date.fromisoformat(day)))


@contextlib.contextmanager
def shifted_to(day: dt.date, at: dt.time = dt.time(12)) -> Iterator[None]:
    """Run the clock as if local time were ``at`` on ``day`` now; restore it afterwards."""
    before = _offset
    set_offset(offset_to(day, at))
    try:
        yield
    finally:
        set_offset(before)


from_environment()
