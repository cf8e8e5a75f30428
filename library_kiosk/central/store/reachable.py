"""The central database, opened when it answers. The station and the central store used to open it (and make the
schema) while building their app, so a database away at boot (not configured yet, the network down, PostgreSQL
restarting) killed the service with a traceback and systemd restarted it every few seconds, for nothing: a restart
cannot bring a database back. With a ``DatabaseGate`` the app starts anyway, says once why its database is away,
answers 503 meanwhile, and opens the database by itself once it answers (docs/operations.md).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from urllib.parse import urlparse

import peewee

from library_kiosk.central.store.db import database

RETRY_SECONDS = 5.0  # at most one connection attempt this often, whatever the requests

# What a database that is away raises on connecting: refused, no route, unknown host, no such database, wrong password
AWAY = (peewee.OperationalError, peewee.InterfaceError)


def location(url: str) -> str:
    """Which database ``url`` names, for people: its name, host and port, never its user or password."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        return f"SQLite file {url[len('sqlite:///'):]}"
    name = parsed.path.lstrip("/") or "(no name)"
    return f'PostgreSQL database "{name}" at {parsed.hostname or "localhost"}:{parsed.port or 5432}'


def reason(exc: BaseException) -> str:
    """The driver's own words for why, on one line: psycopg2 says 'connection to server at "h", port p failed:
    Connection refused' then a hint on the next line; the words after "failed:" are the reason."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text.split(" failed: ", 1)[-1].strip()[:200]


class DatabaseGate:
    """Opens the database with ``prepare()`` (make the schema, and what else the app needs once), retrying until it
    answers. ``open_now()`` tries at once (at start); after that ``ready()`` answers at once and, while the database
    is away, starts one attempt in a thread of its own at most every ``retry_seconds``: a request never waits for a
    connection that may take minutes to time out, and the health probe stays quick."""

    def __init__(self, url: str, prepare: Callable[[], object], retry_seconds: float = RETRY_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic):
        self.where = location(url)
        self.problem = ""  # why the last attempt failed ("" once open)
        self._prepare, self._retry_seconds, self._monotonic = prepare, retry_seconds, monotonic
        self._open = threading.Event()
        self._lock = threading.Lock()
        self._trying = False
        self._last_try = float("-inf")

    def open_now(self) -> bool:
        """Try to open the database now, in this thread; whether it is open (``problem`` says why not)."""
        self._attempt()
        return self._open.is_set()

    def ready(self) -> bool:
        """Whether the database is open; if not, and no attempt is under way or was made lately, start one."""
        if self._open.is_set():
            return True
        with self._lock:
            due = not self._trying and self._monotonic() - self._last_try >= self._retry_seconds
            if due:
                self._trying = True
        if due:
            threading.Thread(target=self._attempt, name="database-retry", daemon=True).start()
        return False

    def _attempt(self) -> None:
        try:
            self._prepare()
        except AWAY as exc:
            self.problem = reason(exc)
            _forget_connections()
        else:
            self.problem = ""
            self._open.set()
        finally:
            with self._lock:
                self._trying, self._last_try = False, self._monotonic()


def open_gate(url: str, prepare: Callable[[], object], log, who: str, meanwhile: str) -> DatabaseGate:
    """A ``DatabaseGate`` on ``url``, tried now. While the database is away, ``log`` (the app's logger) says once
    which database (never its password), why, what ``who`` (the station, the central store) does ``meanwhile``,
    and what to set; once it answers, one line says so."""

    def opening() -> None:
        prepare()
        if gate.problem:  # it was away until now
            log.warning("%s: its database (%s) answers now", who, gate.where)

    gate = DatabaseGate(url, opening)
    if not gate.open_now():
        log.warning("%s: its database (%s) cannot be reached (%s): %s, and it tries again every %g s. Set [central] "
                    "database_url in /etc/kiosk/kiosk.toml (every setting is explained in "
                    "/etc/kiosk/kiosk.example.toml) and check that the database server runs and this machine "
                    "reaches it.", who, gate.where, gate.problem, meanwhile, RETRY_SECONDS)
    return gate


def _forget_connections() -> None:
    """Close what a failed attempt left in the pool (a connection lost half-way through making the schema), so the
    next attempt starts clean and no connection outlives it into a forked worker."""
    close_all = getattr(database.obj, "close_all", None)
    if close_all is not None:
        try:
            close_all()
        except Exception:  # (already unusable: nothing more to give back)
            pass
