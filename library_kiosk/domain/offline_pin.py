"""The offline PIN check: a few bits of a keyed hash, so a stolen kiosk never holds what pins a PIN down.

While the central store is reachable it checks every PIN (its Argon2id hash, or the library system).
For the times it is not, a kiosk holds per patron a *check value*: the low ``bits`` bits of
HMAC-SHA256(key, primary id NUL PIN), written ``"<bits>:<value>"``. The key is the fleet's
``pin_check`` key (central/store/fleet_keys.py); a kiosk keeps it in memory and in its runtime
directory, never in its cache.

What this bounds (docs/security.md, "The offline PIN check"), for a PIN space of ``n`` (10,000 for four
digits) and ``b`` bits:
- a thief with the cache and the key can rule out PINs, but ``n / 2**b`` candidates stay equally likely
  (156 for four digits at the default b = 6): the value says nothing more, however fast the search;
- a thief with the cache and not the key learns nothing about the PIN;
- offline, a wrong PIN passes with probability ``2**-b`` (1 in 64 at b = 6), so the kiosk's own lock
  (``[kiosk] pin_max_attempts``, 5) leaves a guesser with a card about 5 in 64 while the network is down.
b = 0 sends no check values: patrons with a PIN cannot be served offline (the strictest policy).
"""
from __future__ import annotations

import hashlib
import hmac

STORED_BITS = 16  # what the central store keeps; a kiosk gets the low ``[central] offline_pin_check_bits``
MAX_BITS = STORED_BITS


def _digest(key: bytes, primary_id: str, secret: str) -> int:
    mac = hmac.new(key, primary_id.encode() + b"\0" + secret.encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:4], "big")


def check_value(key: bytes, primary_id: str, secret: str, bits: int = STORED_BITS) -> str:
    """The check value of ``secret`` for this patron, ``"<bits>:<value>"``; "" for no secret or no bits."""
    if not secret or bits <= 0:
        return ""
    return f"{bits}:{_digest(key, primary_id, secret) & ((1 << bits) - 1)}"


def truncated(value: str, bits: int) -> str:
    """A stored check value cut down to its low ``bits`` bits (what a kiosk is sent); "" when ``bits`` is 0
    or the value is missing or malformed."""
    parsed = _parse(value)
    if parsed is None or bits <= 0:
        return ""
    held, number = parsed
    bits = min(bits, held)
    return f"{bits}:{number & ((1 << bits) - 1)}"


def matches(key: bytes, primary_id: str, secret: str, value: str) -> bool | None:
    """Whether ``secret`` agrees with the check value; None when there is no usable value (nothing to decide)."""
    parsed = _parse(value)
    if parsed is None:
        return None
    if not secret:
        return False
    bits, number = parsed
    return _digest(key, primary_id, secret) & ((1 << bits) - 1) == number


def candidates(key: bytes, primary_id: str, value: str, space: range = range(10_000), width: int = 4) -> list[str]:
    """Every PIN of ``space`` (zero-padded to ``width``) that agrees with the value: what a thief holding the key
    is left with (tests and docs/security.md measure it with this)."""
    return [pin for pin in (str(n).zfill(width) for n in space) if matches(key, primary_id, pin, value)]


def _parse(value: str) -> tuple[int, int] | None:
    bits_text, _, number_text = (value or "").partition(":")
    if not bits_text.isdigit() or not number_text.isdigit():
        return None
    bits, number = int(bits_text), int(number_text)
    if not 0 < bits <= MAX_BITS or number >= 1 << bits:
        return None
    return bits, number
