"""Identifiers as kiosks hold them: HMAC-SHA256 under a kiosk's own key, never the card number or barcode.

The central store keys each kiosk's identifiers (central/store/fleet_keys.py) and the kiosk keys what a
reader or scanner gives it the same way (kiosk/cache.py), so the two meet without the value travelling
to, or resting on, the kiosk.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any


def normalised(value: str) -> bytes:
    """An identifier as both sides key it: trimmed, upper case (a scanner's case and stray spaces do not matter)."""
    return value.strip().upper().encode()


def key_id(key: bytes) -> str:
    """A short public name of a key (sent with every page, so a kiosk notices it was enrolled again)."""
    return hashlib.sha256(b"key-id\0" + key).hexdigest()[:16]


class IdentifierKeyer:
    """HMAC-SHA256 of identifiers under one key, hex: a copy of the keyed state per value (OpenSSL's own object
    when there, so no Python HMAC code runs per value)."""

    def __init__(self, key: bytes):
        self.key_bytes = key
        keyed = hmac.new(key, digestmod=hashlib.sha256)
        self._keyed: Any = getattr(keyed, "_hmac", None) or keyed

    @property
    def key_id(self) -> str:
        return key_id(self.key_bytes)

    def key(self, value: str) -> str:
        state = self._keyed.copy()
        state.update(normalised(value))
        return str(state.hexdigest())

    def keyed(self, identifiers: list[dict[str, Any]]) -> list[dict[str, str]]:
        """The read model's identifiers (``[{"id_type", "value", "status"}, ...]``) as one kiosk is sent them:
        the active ones only, each as ``{"id_type", "key"}``."""
        return [{"id_type": i["id_type"], "key": self.key(i["value"])} for i in identifiers
                if i.get("status") == "ACTIVE"]

    def keyed_json(self, identifiers_json: str) -> str:
        return json.dumps(self.keyed(json.loads(identifiers_json)), separators=(",", ":"))
