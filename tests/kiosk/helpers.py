"""Plain helpers for the kiosk's tests: the cache filled in-process from the central store, patrons for
every path of the patron screens, signing in, and reading what a receipt said (by email or printed)."""
from __future__ import annotations

import datetime as dt

from escpos import capabilities
from escpos.codepages import CodePages

from tests.store.factories import TODAY, fine, group, hold, loan, patron

HX = {"HX-Request": "true"}  # the header htmx sends: the routes answer with a partial


def _learn_time(kiosk_app) -> None:
    """As a pull does: keep the central store's time, from one of its answers, as the kiosk's trusted time."""
    from kiosk import sync

    central = kiosk_app.extensions["central"]
    central._send("GET", "/health")
    sync.keep_time(central)


def fill_cache(kiosk_app) -> int:
    """Copy the central store's change feed into the kiosk's cache (the pull's pages, without HTTP)."""
    from kiosk.cache import cache_db
    from library_kiosk.central.store import fleet_keys, sync
    from library_kiosk.central.store.devices import Device

    cache = kiosk_app.extensions["patron_cache"]
    keyer = fleet_keys.keyer_for(Device.get(Device.name == kiosk_app.extensions["device_name"]))
    applied = 0
    with cache_db.connection_context():
        while True:
            page = sync.changes_after(keyer, cache.cursor(), 1000)
            applied += cache.apply_page(page)
            if not page["more"]:
                cache.fetch_keys()  # as the pull does: the kiosk's keys from the central store
                _learn_time(kiosk_app)  # and the central store's time (kiosk/trusted_clock.py)
                return applied


def make_patrons():
    """P1 (PIN 2468, mixed loans, requests, email), P2 expired student, P3 no PIN needed, P4 French."""
    from library_kiosk.central.store.models import Email

    user = patron("P1", barcode="20000000000011", card="04A1B2C3D4E5F6")
    Email.create(user=user, email_address="zoe@example.org", preferred=True)
    loan(user, "Middlemarch", due=TODAY - dt.timedelta(days=2))
    loan(user, "Les Misérables", due=TODAY + dt.timedelta(days=5))
    loan(user, "Ulysses", status="CLAIMED_RETURNED")
    loan(user, "The Second Sex", renewals=2)
    loan(user, "Gödel, Escher, Bach", barcode="39990000000001")
    hold(user, title="Beloved", status="ON_HOLD_SHELF", place=None, pickup="Science Library")
    hold(user, title="Dubliners", status="NOT_STARTED", place=3)
    fine(user, "2.50")
    patron("P2", barcode="20000000000022", card="04FFFFFFFFFFFF", expiry=TODAY, account_type="EXTERNAL",
           external_id="STUDENT")
    group("58", description="Library Guest", pin_required=False)
    guest = patron("P3", barcode="20000000000033", card="04AAAAAAAAAAAA", group_code="58", first_name="Guest",
                   last_name="Reader")
    hold(guest, item_barcode="39990000000001", title="Gödel, Escher, Bach", place=1)
    patron("P4", barcode="20000000000044", card="04BBBBBBBBBBBB", preferred_language="fr", first_name="Amélie",
           last_name="Dubois")


def identify(identifier: str, pin: str = "2468"):
    """Inside a kiosk request context: a patron identified as the kiosk's screens do it (``services.find_patron``,
    read through the central store while it answers, which opens the patron's visit there) and, when the group asks
    for one, the PIN checked with that visit (``services.check_pin``). (The account, the visit a session keeps:
    "" when identified offline.)"""
    from flask import g

    from kiosk import services

    account = services.find_patron(identifier)
    assert account is not None, identifier
    visit = g.get("visit") or ""
    if account.policy.pin_required:
        result = services.check_pin(account, pin, visit)
        assert result.ok, result
        visit = result.visit or visit
    return account, visit


def pin_refused_offline(kiosk_app, primary_id: str = "P1", right: str = "2468") -> str:
    """A wrong PIN that this kiosk's offline check refuses. The check value keeps a few bits of the PIN, so about 1
    wrong PIN in 64 passes it by design (docs/security.md, "The offline PIN check"); a test of the offline
    counters must not leave to chance whether its wrong PIN is one of them. Needs the cache filled."""
    from kiosk import services
    from kiosk.cache import cache_db

    with kiosk_app.test_request_context(), cache_db.connection_context():
        account = services.get_patron(primary_id)
        return next(pin for pin in (f"{n:04d}" for n in range(1111, 10000))
                    if pin != right and services._check_offline(account, pin) is False)


def login(kiosk):
    """Scan P1's barcode and type her PIN (``make_patrons``), through the kiosk's test client."""
    kiosk.post("/identify", data={"identifier": "20000000000011"})
    kiosk.post("/pin", data={"pin": "2468"})


def mail_text(message) -> str:
    """The plain text of an email (its first part when it has several)."""
    part = message.get_payload()[0] if message.is_multipart() else message
    return part.get_payload(decode=True).decode().replace("\r\n", "\n")


def decode_escpos(data: bytes, profile: str = "default") -> str:
    """The text an ESC/POS printer would print: follow ESC t code page switches, drop other commands."""
    pages = capabilities.get_profile(profile).codePages
    out, encoding, i = [], "cp437", 0
    while i < len(data):
        byte = data[i]
        if byte == 0x1B and i + 1 < len(data) and data[i + 1] == ord("t"):
            encoding = CodePages.get_encoding_name(pages[str(data[i + 2])]).lower()
            i += 3
        elif byte == 0x1B:
            i += 3 if data[i + 1] in (ord("!"), ord("E"), ord("a"), ord("d")) else 2
        elif byte == 0x1D:
            i += 3
        else:
            out.append(bytes([byte]).decode(_python_codec(encoding), errors="replace"))
            i += 1
    return "".join(out)


def _python_codec(name: str) -> str:
    return {"cp858": "cp858", "cp437": "cp437"}.get(name, name)
