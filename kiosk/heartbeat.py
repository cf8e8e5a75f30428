"""The heartbeat each box reports to the fleet view (the transport is sync's: see the lead).

``collect()`` gathers what a fleet operator needs to know about this box, cheaply and without
failing: every part that cannot be read is reported as ``None`` plus an entry in ``errors``.
"""
from __future__ import annotations

import collections
import json
import os
import socket
import sqlite3
import time
import urllib.request
from importlib import metadata

# The last errors worth reporting; any part of the box may call ``note_error``.
_ERRORS: collections.deque = collections.deque(maxlen=20)


def note_error(message: str) -> None:
    _ERRORS.append({"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "message": message[:500]})


def _version() -> str | None:
    try:
        return metadata.version("library-kiosk")
    except metadata.PackageNotFoundError:
        return None


def _uptime(proc: str = "/proc/uptime") -> float | None:
    try:
        with open(proc) as handle:
            return float(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _readers(service_url: str, errors: list) -> list | None:
    try:
        with urllib.request.urlopen(service_url.rstrip("/") + "/status", timeout=2) as response:
            return json.load(response).get("readers", [])
    except (OSError, ValueError) as exc:
        errors.append(f"reader service {service_url}: {exc}")
        return None


def _outbox_length(cache_url: str, errors: list) -> int | None:
    """Rows waiting in the kiosk cache's outbox table, if this release has one."""
    if not cache_url.startswith("sqlite:///"):
        return None
    path = cache_url[len("sqlite:///"):]
    if not os.path.exists(path):
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            name = next((t for t in ("outbox", "outbox_entry", "outbox_item") if t in tables), None)
            return db.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] if name else None
    except sqlite3.Error as exc:
        errors.append(f"kiosk cache {path}: {exc}")
        return None


# --- the kiosk cache's storage (issue 21): full, read-only, missing or corrupt, in plain words ---
STORAGE_WORDS = {
    "full": "the disk holding the kiosk cache is full",
    "read-only": "the kiosk cache cannot be written (read-only)",
    "missing": "the kiosk cache file is missing or cannot be opened",
    "corrupt": "the kiosk cache file is damaged",
}
_STORAGE: dict = {}  # this process's last storage fault: {"problem", "detail", "at"}


def storage_problem(exc: BaseException) -> str | None:
    """Which storage fault ``exc`` is (a key of ``STORAGE_WORDS``), or None for anything else (a locked
    database is a wait, not a fault: the writers retry)."""
    seen = 0
    while exc is not None and seen < 5:  # SQLite rolls back by itself on a full disk; peewee's own rollback
        found = _problem_of(exc)       # then fails ("no transaction is active"): the fault is its context
        if found:
            return found
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _problem_of(exc: BaseException) -> str | None:
    import errno

    text = str(exc).lower()
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC or "disk is full" in text or "no space left" in text:
        return "full"
    if (isinstance(exc, OSError) and exc.errno == errno.EROFS) or "readonly" in text or "read-only" in text:
        return "read-only"
    if "malformed" in text or "not a database" in text or "disk i/o error" in text:
        return "corrupt"
    if "unable to open database" in text or "no such table" in text:
        return "missing"
    return None


# Below this much free space on the disk holding the cache, the cache is full: SQLite's journal and a growing
# write-ahead log, the journal of the system and the browser's profile all need room, and a write that reuses
# the log's old pages may still succeed on a disk with nothing left (found filling /var under a real boot:
# tests/vm/test_kiosk_boot.py), so a write alone does not tell.
MIN_FREE_BYTES = 8 * 1024 * 1024


def check_free_space(path: str) -> None:
    """Raise ``OSError(ENOSPC)`` when the disk holding ``path`` has less than ``MIN_FREE_BYTES`` left for the
    kiosk (root's reserved blocks are not the kiosk's: ``f_bavail``)."""
    import errno

    folder = os.path.dirname(os.path.abspath(path))
    found = os.statvfs(folder)
    free = found.f_bavail * found.f_frsize
    if free < MIN_FREE_BYTES:
        raise OSError(errno.ENOSPC, f"no space left on the disk holding {folder}: {free // 1024} KiB free, "
                                    f"the kiosk needs {MIN_FREE_BYTES // (1024 * 1024)} MiB")


def _cache_path(cache_url: str) -> str:
    """The cache file a ``sqlite:///`` URL names ("" for any other)."""
    return cache_url[len("sqlite:///"):] if cache_url.startswith("sqlite:///") else ""


def _no_room(path: str) -> bool:
    try:
        check_free_space(path)
    except OSError:
        return True
    return False


def _note_path(cache_url: str) -> str:
    path = _cache_path(cache_url)
    return f"{path}.storage-fault" if path and path != ":memory:" else ""


def note_storage(exc: BaseException, cache_url: str = "", remember: bool = True) -> str | None:
    """Remember a storage fault of the kiosk cache (with ``remember``: this process's heartbeat reports it) and,
    if the folder can still be written, leave a note beside the cache for the other processes (``kiosk sync
    status``, ``kiosk doctor``, the sync worker's heartbeat); its problem, or None when ``exc`` is no storage
    fault."""
    problem = storage_problem(exc)
    if problem is None:
        return None
    path = _cache_path(cache_url)
    if problem in ("corrupt", "missing") and path and path != ":memory:" and _no_room(path):
        problem = "full"   # SQLite says "disk I/O error" when a full disk refuses its -shm file, say
    found = {"problem": problem, "detail": str(exc)[:200], "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if remember:
        _STORAGE.update(found)
    note = _note_path(cache_url)
    if note:
        try:
            with open(note, "w") as handle:
                json.dump(found, handle)
        except OSError:  # a full or read-only disk may refuse even this: the memory note stays
            pass
    return problem


def storage_ok(cache_url: str = "") -> None:
    """The cache was written again (a good sync cycle): the fault is over."""
    _STORAGE.clear()
    note = _note_path(cache_url)
    if note and os.path.exists(note):
        try:
            os.remove(note)
        except OSError:
            pass


def _probe(path: str) -> tuple[str, str] | None:
    """Look at the cache file itself: missing, its disk full, damaged, or not writable (a write begun and rolled
    back)."""
    if not os.path.exists(path):
        return "missing", f"{path} does not exist"
    try:
        check_free_space(path)
    except OSError as exc:
        return "full", str(exc)[:200]
    try:
        db = sqlite3.connect(path, timeout=1, isolation_level=None)
        try:
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE sync_state SET value = value WHERE name = 'op_seq'")
            db.execute("ROLLBACK")
        finally:
            db.close()
    except sqlite3.Error as exc:
        problem = storage_problem(exc)
        return (problem, str(exc)[:200]) if problem else None
    return None


def storage(cache_url: str) -> dict:
    """The kiosk cache's storage as the heartbeat, ``kiosk sync status`` and ``kiosk doctor`` report it:
    ``{"ok", "problem", "words", "detail", "at"}`` from this process's last fault, the note another process left,
    and a look at the file (missing, damaged, read-only)."""
    path = _cache_path(cache_url)
    found = dict(_STORAGE)
    note = _note_path(cache_url)
    if not found and note and os.path.exists(note):
        try:
            with open(note) as handle:
                found = json.load(handle)
        except (OSError, ValueError):
            found = {}
    if path and path != ":memory:":
        probed = _probe(path)
        if probed:
            found = {"problem": probed[0], "detail": probed[1], "at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                    time.gmtime())}
    problem = found.get("problem") if found.get("problem") in STORAGE_WORDS else None
    return {"ok": problem is None, "problem": problem, "words": STORAGE_WORDS.get(problem or "", ""),
            "detail": found.get("detail", "") if problem else "", "at": found.get("at") if problem else None}


def collect(config: dict | None = None) -> dict:
    """One heartbeat: a JSON-ready dict."""
    if config is None:
        from library_kiosk import settings

        config = settings.load()
    errors: list[str] = []
    beat = {
        "device": config.get("kiosk", {}).get("device_name"),
        "hostname": socket.gethostname(),
        "version": _version(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "uptime_seconds": _uptime(),
        "readers": _readers(config.get("readers", {}).get("service_url", "http://127.0.0.1:8083"), errors),
        "outbox_length": _outbox_length(config.get("kiosk", {}).get("cache_url", ""), errors),
    }
    beat["storage"] = storage(config.get("kiosk", {}).get("cache_url", ""))
    if not beat["storage"]["ok"]:
        errors.append(f"storage: {beat['storage']['problem']}: {beat['storage']['words']}")
    beat["errors"] = list(_ERRORS) + [{"at": beat["at"], "message": e} for e in errors]
    return beat
