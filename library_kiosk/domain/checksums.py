"""The sync protocol's checksums, computed the same way by the kiosk (when it pushes its outbox) and by the
central store (when it checks a push and spots a reused idempotency key): SHA-256 of canonical JSON."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence


def canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def op_digest(op: Mapping[str, object]) -> str:
    return hashlib.sha256(canonical({"type": op["type"], "payload": op["payload"]}).encode()).hexdigest()


def batch_checksum(ops: Sequence[object]) -> str:
    return hashlib.sha256(canonical(ops).encode()).hexdigest()
