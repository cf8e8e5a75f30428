"""What a kiosk's token and a stolen kiosk yield (issue 20): the dump, the stolen cache, a kiosk enrolled again.

Written as the attacks: pull everything a token can pull and search it for what must not be there; take a
kiosk's disk (its data folder: cache, credential, session key) and search it; then measure what the offline
PIN check value leaves a thief who also has the key.
"""
import json
import os
import sqlite3

import pytest

from kiosk import sync
from kiosk.cache_db import cache_db
from kiosk.device_keys import keys_path, load
from library_kiosk.central.store import devices
from library_kiosk.central.store.models import Email
from library_kiosk.domain import offline_pin
from tests.helpers import device_client
from tests.store.factories import patron

PIN = "2468"


def _patrons(count=20):
    """Patrons with sequential barcodes (the easy case for a thief), card serial numbers, emails and PINs."""
    from library_kiosk.central.store.fleet_keys import pin_fields
    from library_kiosk.central.store.models import User

    made = []
    for n in range(count):
        barcode, card = f"2000000000{n:04d}", f"04A1B2C3D4{n:04X}"
        user = patron(f"P{n}", barcode=barcode, card=card)
        User.update(**pin_fields(user.primary_id, PIN)).where(User.id == user.id).execute()
        Email.create(user=user, email_address=f"reader{n}@example.org", preferred=True)
        made.append((user.primary_id, barcode, card, f"reader{n}@example.org"))
    return made


def _everything_a_token_pulls(client) -> bytes:
    """Every page in both formats, and the push answer's records, as the bytes on the wire."""
    seen, cursor = [], 0
    while True:
        page = client.get("/api/v1/sync/changes", query_string={"after": cursor, "limit": 7})
        lines = client.get("/api/v1/sync/changes", query_string={"after": cursor, "limit": 7, "format": "lines"})
        assert page.status_code == lines.status_code == 200
        seen += [page.data, lines.data]
        cursor = page.json["cursor"]
        if not page.json["more"]:
            return b"\n".join(seen)


def test_a_kiosk_token_pulls_no_clear_identifier_no_email_no_pin_hash(central_app, device_token, central_db):
    made = _patrons()
    wire = _everything_a_token_pulls(device_client(central_app, device_token))
    assert wire.count(b'"primary_id"') >= len(made)  # the patrons are there ...
    for _pid, barcode, card, email in made:  # ... but not what opens or reaches their accounts
        assert barcode.encode() not in wire and card.encode() not in wire and email.encode() not in wire
    assert b"$argon2" not in wire and b"pin_hash" not in wire and b"password" not in wire
    checks = {json.loads(line.split(b"\t", 1)[1])["pin_check"] for line in wire.split(b"\n") if b"\t" in line}
    assert checks and all(value.startswith("6:") for value in checks)  # six bits each, no more


def test_each_kiosk_gets_its_own_keys_and_a_revoked_one_gets_none(central_app, device_token, central_db):
    _patrons(1)
    other = devices.enrol(devices.add("kiosk-2"))[1]
    mine = device_client(central_app, device_token).get("/api/v1/sync/changes").json["records"][0]
    theirs = device_client(central_app, other).get("/api/v1/sync/changes").json["records"][0]
    assert {i["key"] for i in mine["identifiers"]}.isdisjoint(i["key"] for i in theirs["identifiers"])
    devices.revoke("kiosk-2")
    assert device_client(central_app, other).get("/api/v1/sync/keys").status_code == 403  # revoked


def test_a_stolen_kiosk_disk_gives_no_identifier_email_pin_hash_or_key(kiosk_app, central_db, config, tmp_path,
                                                                      monkeypatch):
    made = _patrons()
    with cache_db.connection_context():
        sync.pull(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"])
    keys = load(keys_path(config))
    assert keys is not None and kiosk_app.extensions["patron_cache"].count() == len(made)
    disk = b""
    data_dir = config["data_dir"]
    for folder, _dirs, files in os.walk(data_dir):
        if os.path.abspath(folder).startswith(os.path.abspath(os.path.dirname(keys_path(config)))):
            continue  # the runtime directory: a tmpfs on the appliance, gone when the thief unplugs the box
        for name in files:
            with open(os.path.join(folder, name), "rb") as handle:
                disk += handle.read()
    cache_file = config["kiosk"]["cache_url"][len("sqlite:///"):]
    with sqlite3.connect(cache_file) as connection:  # the cache as its rows too (not only its pages' bytes)
        disk += "\n".join(str(row) for table in ("cached_patron", "cached_identifier")
                          for row in connection.execute(f"SELECT * FROM {table}")).encode()
    for _pid, barcode, card, email in made:
        assert barcode.encode() not in disk and card.encode() not in disk and email.encode() not in disk
    assert b"$argon2" not in disk
    assert keys.identifier_key.hex().encode() not in disk and keys.pin_check_key.hex().encode() not in disk


def test_what_the_offline_check_value_leaves_a_thief_who_also_has_the_key(kiosk_app, central_db, config):
    """Measured: the PINs of 10,000 that agree with each patron's check value, for a thief who also took the
    key from the running kiosk's memory. About 10,000 / 2**6 = 156 stay for each, the right one among them."""
    made = _patrons()
    with cache_db.connection_context():
        sync.pull(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"])
        keys = load(keys_path(config))
        counts = []
        for primary_id, *_ in made:
            value = kiosk_app.extensions["patron_cache"].get(primary_id).pin_check
            left = offline_pin.candidates(keys.pin_check_key, primary_id, value)
            assert PIN in left
            counts.append(len(left))
    assert 110 < sum(counts) / len(counts) < 210, counts  # 156 expected; one value never narrows it to a few
    assert min(counts) > 80


def test_a_kiosk_enrolled_again_refills_its_cache_under_its_new_key(kiosk_app, central_db, config):
    from kiosk.devices import credential_path, save_credential

    made = _patrons(3)
    cache = kiosk_app.extensions["patron_cache"]
    with cache_db.connection_context():
        sync.pull(kiosk_app.extensions["central"], cache)
        old = cache.state("key_id")
        token = devices.enrol(devices.add("kiosk-1", replace=True))[1]
        save_credential(credential_path(config), {"device": "kiosk-1", "token": token,
                                                  "central_url": kiosk_app.extensions["central"].base_url})
        sync.pull(kiosk_app.extensions["central"], cache)
        assert cache.state("key_id") != old and cache.count() == len(made)
    with kiosk_app.test_request_context(), cache_db.connection_context():
        assert cache.find(made[0][1]).primary_id == made[0][0]  # the tap still finds the patron


@pytest.mark.parametrize("bits", [0, 4, 6])
def test_the_bits_kiosks_are_sent_follow_the_setting(central_db, config, bits, device_token):
    from library_kiosk.central import api as central

    _patrons(2)
    config["central"]["offline_pin_check_bits"] = bits
    app = central.create_app(config)
    records = device_client(app, device_token).get("/api/v1/sync/changes").json["records"]
    assert {r["account"]["pin_check"] for r in records} <= ({""} if bits == 0 else
                                                          {f"{bits}:{n}" for n in range(2 ** bits)})


def test_changing_the_bits_sends_every_kiosk_the_new_values(central_db, config, device_token):
    from library_kiosk.central import api as central

    _patrons(2)
    client = device_client(central.create_app(config), device_token)
    cursor = client.get("/api/v1/sync/changes").json["cursor"]
    config["central"]["offline_pin_check_bits"] = 4
    client = device_client(central.create_app(config), device_token)
    again = client.get("/api/v1/sync/changes", query_string={"after": cursor}).json["records"]
    assert len(again) == 2 and all(r["account"]["pin_check"].startswith("4:") for r in again)
