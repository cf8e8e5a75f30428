"""The keys the central store hands to kiosks, so a kiosk never holds a clear identifier or a PIN hash.

- Each kiosk has its own **identifier key** (``Device.identifier_key``, new at every enrolment): the store
  sends a kiosk its patrons' identifiers only as HMAC-SHA256 under that key (``keyed_identifiers``), and the
  kiosk hashes a tapped card or scanned barcode the same way to find the patron. Another kiosk's cache, or a
  kiosk enrolled again, holds other values.
- The fleet has one **PIN check key** (``FleetKey`` "pin_check"): the offline PIN check values
  (domain/offline_pin.py) are made with it whenever a PIN passes through the store (set by staff, registered,
  checked at a kiosk), so every kiosk can check them.

A kiosk fetches both with its token (``GET /api/v1/sync/keys``) and keeps them in memory and its runtime
directory (kiosk/device_keys.py), never beside its cache; revoking the kiosk stops it fetching them again.
The keys live in the central database (like the patrons' Argon2id hashes), so every central process agrees.
"""
from __future__ import annotations

import secrets

import peewee as pw

from library_kiosk.central.store import changes
from library_kiosk.central.store.db import database
from library_kiosk.central.store.devices import Device
from library_kiosk.central.store.models import BaseModel, User
from library_kiosk.domain import offline_pin
from library_kiosk.domain.hashing import hash_secret
from library_kiosk.domain.identifier_keys import IdentifierKeyer, key_id

PIN_CHECK = "pin_check"


class FleetKey(BaseModel):
    name = pw.CharField(max_length=40, primary_key=True)
    value = pw.CharField(max_length=64)


def _fleet_key(name: str) -> bytes:
    found = FleetKey.get_or_none(FleetKey.name == name)
    if found is None:
        FleetKey.insert(name=name, value=secrets.token_hex(32)).on_conflict_ignore().execute()  # one wins a race
        found = FleetKey.get(FleetKey.name == name)
    return bytes.fromhex(found.value)


def pin_check_key() -> bytes:
    return _fleet_key(PIN_CHECK)


def identifier_key(device: Device) -> bytes:
    """The device's identifier key (made now for a device enrolled before keys existed)."""
    if not device.identifier_key:
        with database.atomic():
            Device.update(identifier_key=secrets.token_hex(32)).where(
                (Device.id == device.id) & Device.identifier_key.is_null()).execute()
        device.identifier_key = Device.get_by_id(device.id).identifier_key
    return bytes.fromhex(device.identifier_key)


def keys_for(device: Device, pin_check_bits: int) -> dict:
    """What a kiosk is given: its identifier key (and the key's id), the fleet's PIN check key and the bits."""
    key = identifier_key(device)
    return {"identifier_key": key.hex(), "key_id": key_id(key), "pin_check_key": pin_check_key().hex(),
            "pin_check_bits": pin_check_bits}


def keyer_for(device: Device) -> IdentifierKeyer:
    return IdentifierKeyer(identifier_key(device))


def pin_fields(primary_id: str, pin: str) -> dict:
    """The columns to write when a patron's PIN is set: its Argon2id hash and its offline check value."""
    return {"pin_hash": hash_secret(pin), "pin_check": offline_pin.check_value(pin_check_key(), primary_id, pin)}


def remember_check(user, pin: str) -> None:
    """Store the offline check value of a PIN the store has just seen to be right, if the patron has none yet
    (patrons whose PIN was set before check values existed get one at their next PIN check)."""
    value = offline_pin.check_value(pin_check_key(), user.primary_id, pin)
    if not value or user.pin_check == value:
        return
    with database.atomic():
        User.update(pin_check=value).where(User.id == user.id).execute()
        changes.record(user.primary_id)
