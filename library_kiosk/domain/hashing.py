"""Slow hashes for PINs and passwords (Argon2id through argon2-cffi).

Parameters follow OWASP's minimum for Argon2id (19 MiB, 2 passes), light enough
for a Raspberry Pi to verify a PIN in well under a second.
"""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(stored_hash: str, secret: str) -> bool:
    """True when ``secret`` matches; False for a mismatch or an unusable hash."""
    if not stored_hash or not secret:
        return False
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False
