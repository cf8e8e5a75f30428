"""The keys this kiosk is given by the central store, kept where a stolen kiosk does not take them along.

The central store sends this kiosk its patrons' identifiers only as HMACs under this kiosk's own identifier
key, and PINs only as a few bits of a check value (domain/offline_pin.py). To find a tapped card and to
check a PIN offline the kiosk needs both keys: it fetches them with its device token
(``GET /api/v1/sync/keys``) and holds them in memory and in ``keys_path`` — by default in the runtime
directory systemd gives the kiosk (``RUNTIME_DIRECTORY``, a tmpfs: it survives a restart of the kiosk's
service, not a power cut). The cache on the SD card never holds them. A kiosk that starts while the
central store is unreachable cannot find cards until it reaches it once (docs/security.md).
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass

from library_kiosk.domain.identifier_keys import key_id

log = logging.getLogger(__name__)
RETRY_SECONDS = 10.0  # how often a kiosk without keys asks the central store again


class KeysUnavailable(Exception):
    """This kiosk has no keys yet (it has not reached the central store since it started): it cannot find a card."""


@dataclass(frozen=True)
class DeviceKeys:
    identifier_key: bytes
    pin_check_key: bytes
    pin_check_bits: int

    @property
    def key_id(self) -> str:
        """A short name of the identifier key (the central store sends it with every page): never the key."""
        return key_id(self.identifier_key)

    @classmethod
    def from_dict(cls, data: dict) -> DeviceKeys:
        return cls(bytes.fromhex(data["identifier_key"]), bytes.fromhex(data["pin_check_key"]),
                   int(data["pin_check_bits"]))

    def to_dict(self) -> dict:
        return {"identifier_key": self.identifier_key.hex(), "pin_check_key": self.pin_check_key.hex(),
                "pin_check_bits": self.pin_check_bits}


def keys_path(config: dict) -> str:
    """``[kiosk] keys_file``, else ``device-keys.json`` in systemd's ``RUNTIME_DIRECTORY`` (tmpfs), else in
    ``{data_dir}/run`` (development and tests)."""
    configured = config["kiosk"].get("keys_file", "")
    if configured:
        return configured
    runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    return os.path.join(runtime or os.path.join(config["data_dir"], "run"), "device-keys.json")


def load(path: str) -> DeviceKeys | None:
    try:
        with open(path) as handle:
            return DeviceKeys.from_dict(json.load(handle))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(path: str, keys: DeviceKeys) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
    temporary = f"{path}.tmp{os.getpid()}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(keys.to_dict(), handle)
    os.replace(temporary, path)


def fetch(client) -> DeviceKeys:
    """Ask the central store for this kiosk's keys (``CentralUnavailable`` / ``CentralError`` when it cannot)."""
    return DeviceKeys.from_dict(client._call("GET", "/api/v1/sync/keys"))


class KeyRing:
    """This kiosk's keys on demand: held in memory, else read from ``path``, else fetched from the central store
    (after a failure, again only ``RETRY_SECONDS`` later) and written to ``path``. ``get()`` gives None while
    none can be had."""

    def __init__(self, path: str, client=None, clock=time.monotonic):
        self.path = path
        self.client = client
        self._clock = clock
        self._keys: DeviceKeys | None = None
        self._failed = -RETRY_SECONDS
        self._lock = threading.Lock()

    def get(self, wanted_key_id: str = "") -> DeviceKeys | None:
        """The keys; with ``wanted_key_id`` (the key the cache's hashes were made with), keys of that id only:
        other keys are dropped and fetched again (the kiosk was enrolled again)."""
        with self._lock:
            if self._keys is None or (wanted_key_id and self._keys.key_id != wanted_key_id):
                self._keys = load(self.path)
            if self._keys is None or (wanted_key_id and self._keys.key_id != wanted_key_id):
                self._fetch()
            if self._keys is not None and (not wanted_key_id or self._keys.key_id == wanted_key_id):
                return self._keys
            return None

    def _fetch(self) -> None:
        if self.client is None or self._clock() - self._failed < RETRY_SECONDS:
            return  # asked in vain a moment ago: do not hold every tap on an unreachable central store
        from kiosk.central_client import CentralError, CentralUnavailable

        try:
            self._keys = fetch(self.client)
        except (CentralUnavailable, CentralError, ValueError, KeyError, TypeError) as exc:
            self._failed = self._clock()
            log.warning("this kiosk's keys could not be fetched from the central store: %s", exc)
            return
        save(self.path, self._keys)
