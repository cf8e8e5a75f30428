"""The kiosk's sessions, kept on the server: the cookie carries only a random session id.

A patron's session (who they are, how far they got, what their renewals did) stays in the memory of the
kiosk's serving process, keyed by a hash of the id the cookie carries. So whoever copies the cookie, or
decodes it, learns nothing from it, and a copied cookie opens nothing once the session has ended:

- **Done** (``visit.end_visit``) and every new identification (``visit.start_visit``) give the browser a new
  id and forget the old one (``new_id``): a cookie copied before either finds nothing;
- **the idle timeout**: a request of a session idle longer than ``[kiosk] idle_timeout_seconds`` (plus
  ``IDLE_GRACE_SECONDS`` for the page's own countdown) ends it before any route runs
  (``routes._expire_idle_session``, on the product's clock: ``visit.moment``); a session nobody came back
  for is forgotten ``PURGE_AFTER_SECONDS`` later whatever happens.

Memory, not the cache's SQLite file: nothing of a session reaches the disk, a session never waits for the
sync worker's write lock, and a restart ends every session. The kiosk runs one worker process
(``kiosk serve``: library_kiosk/web/serving.py, ``workers=1``), so every request finds its session here.
Installed by the kiosk's routes (``init_app``).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import threading

from flask.sessions import SecureCookieSession, SessionInterface, session_json_serializer

from library_kiosk.domain import clock

IDLE_GRACE_SECONDS = 15  # the page ends a session at the idle timeout itself; the server allows this much more
PURGE_AFTER_SECONDS = 300  # a session nobody came back for is forgotten this long after it timed out
_ID = re.compile(r"[A-Za-z0-9_-]{32,64}")


class ServerSession(SecureCookieSession):
    """A session whose contents live in the app's ``SessionStore``; ``sid`` is what the cookie carries."""

    def __init__(self, initial=None, sid: str = ""):
        super().__init__(initial)
        self.sid = sid
        self.retired: list[str] = []  # ids forgotten at the next save


def new_id(session) -> None:
    """Give this session a new id and forget the old one (a cookie copied before now finds nothing)."""
    if isinstance(session, ServerSession):
        if session.sid:
            session.retired.append(session.sid)
        session.sid = ""
        session.modified = True


def idle_limit_seconds(kiosk_config: dict) -> float:
    """How long a session may go without a request before the server ends it."""
    return float(kiosk_config["idle_timeout_seconds"]) + IDLE_GRACE_SECONDS


def _key(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class SessionStore:
    """Session id hash -> (the session's contents as tagged JSON, when it was last saved)."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[str, dt.datetime]] = {}
        self._lock = threading.Lock()

    def get(self, sid: str, oldest: dt.datetime) -> dict | None:
        with self._lock:
            row = self._rows.get(_key(sid))
        if row is None or row[1] < oldest:
            return None
        data: dict = session_json_serializer.loads(row[0])  # a copy: requests never share mutable contents
        return data

    def put(self, sid: str, data: dict, now: dt.datetime) -> None:
        text = session_json_serializer.dumps(data)
        with self._lock:
            self._rows[_key(sid)] = (text, now)

    def forget(self, sids: list[str], older_than: dt.datetime) -> None:
        """Forget ``sids``, and every session last saved before ``older_than``."""
        with self._lock:
            for sid in sids:
                self._rows.pop(_key(sid), None)
            for key in [key for key, (_, seen) in self._rows.items() if seen < older_than]:
                del self._rows[key]

    def stored(self, sid: str) -> str | None:
        """What is kept for ``sid``, as stored (tests read it)."""
        with self._lock:
            row = self._rows.get(_key(sid))
        return None if row is None else row[0]

    def hashes(self) -> list[str]:
        """The keys sessions are stored under (hashes of their ids)."""
        with self._lock:
            return list(self._rows)

    def __contains__(self, sid: str) -> bool:
        with self._lock:
            return _key(sid) in self._rows

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)


class ServerSessionInterface(SessionInterface):
    session_class = ServerSession

    def __init__(self) -> None:
        self.store = SessionStore()

    def open_session(self, app, request) -> ServerSession:
        sid = request.cookies.get(self.get_cookie_name(app), "")
        data = self.store.get(sid, clock.now() - self._purge_after(app)) if _ID.fullmatch(sid) else None
        return ServerSession() if data is None else ServerSession(data, sid)  # unknown, ended or abandoned: empty

    def save_session(self, app, session, response) -> None:
        if not isinstance(session, ServerSession):
            return
        had_cookie = bool(session.sid or session.retired)
        now = clock.now()
        if session.modified or session.retired:
            gone = session.retired + ([session.sid] if session.sid and not session else [])
            self.store.forget(gone, now - self._purge_after(app))
            session.retired = []
            if not session:
                session.sid = ""
            else:
                session.sid = session.sid or secrets.token_urlsafe(32)
                self.store.put(session.sid, dict(session), now)
        name, options = self.get_cookie_name(app), self._cookie_options(app)
        if session.sid:
            response.set_cookie(name, session.sid, **options)
        elif had_cookie or session.modified:
            response.delete_cookie(name, **options)
        if session.accessed:
            response.vary.add("Cookie")

    def _purge_after(self, app) -> dt.timedelta:
        return dt.timedelta(seconds=idle_limit_seconds(app.config["KIOSK"]["kiosk"]) + PURGE_AFTER_SECONDS)

    def _cookie_options(self, app) -> dict:
        return {"domain": self.get_cookie_domain(app), "path": self.get_cookie_path(app),
                "secure": self.get_cookie_secure(app), "httponly": self.get_cookie_httponly(app),
                "samesite": self.get_cookie_samesite(app)}


def init_app(app) -> None:
    """Keep this app's sessions on the server (in this process); the cookie carries the session id only."""
    app.session_interface = ServerSessionInterface()


def store(app) -> SessionStore:
    """The app's sessions (tests look into it)."""
    interface = app.session_interface
    assert isinstance(interface, ServerSessionInterface), "kiosk.sessions.init_app was not called"
    return interface.store
