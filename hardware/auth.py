"""The reader service's two small secrets: the shared secret its clients send, and the key of the
fingerprints its log shows instead of card numbers and barcodes.

- **The shared secret** (``[readers] secret_file``): random, made once with mode 0600 by whichever side
  needs it first (the service at its start, or a client before its first request), read by both. The
  service answers ``GET /events`` and ``POST /simulate`` only with ``Authorization: Bearer <secret>``
  (401 otherwise), so a local process that cannot read the file can neither watch taps nor inject one.
  ``GET /status`` (reader names and whether they are online, nothing about a card) stays open for the
  heartbeat and ``kiosk doctor``.
- **The log key** (``[readers] log_key_file``): made once beside the service, mode 0600. The log shows
  ``#<first 8 hex of HMAC-SHA256(key, value)>``: the same card gives the same fingerprint in the
  journal, so repeated taps can be followed, but the number cannot be read back from it.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from library_kiosk.settings.secret_files import made_once


def client_secret(path: str) -> str:
    """What a client sends (made once if missing; empty when no ``secret_file`` is configured)."""
    return made_once(path) if path else ""


def authorized(header: str | None, secret: str) -> bool:
    """Whether an ``Authorization`` header carries ``secret`` (always true when there is no secret)."""
    if not secret:
        return True
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), secret.encode())


def header(secret: str) -> dict[str, str]:
    """The request header carrying ``secret`` (none without one)."""
    return {"Authorization": f"Bearer {secret}"} if secret else {}


class Fingerprints:
    """Keyed fingerprints of card numbers and barcodes, for the log."""

    def __init__(self, key_file: str = ""):
        self.key = (made_once(key_file) if key_file else secrets.token_hex(32)).encode()

    def __call__(self, value: str) -> str:
        if not value:
            return "-"
        digest = hmac.new(self.key, value.strip().encode(), hashlib.sha256).hexdigest()
        return f"#{digest[:8]}"
