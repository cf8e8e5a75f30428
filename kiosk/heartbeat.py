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
    beat["errors"] = list(_ERRORS) + [{"at": beat["at"], "message": e} for e in errors]
    return beat
