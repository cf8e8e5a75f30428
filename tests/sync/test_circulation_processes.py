"""Checkout and return exactly once with real processes (issue 18), as the renewal and call tests of
test_processes.py: the central store served by gunicorn (``kiosk central serve``), a kiosk's outbox replayed by a
pusher process killed with SIGKILL at random moments, and a proxy that loses 30% of the answers after the central
store applied them. Whatever happens on the way, each item is lent once, given back once, and a late return fined
once."""
from __future__ import annotations

import datetime as dt
import random
import signal
import time
from decimal import Decimal

import pytest

from kiosk import outbox
from kiosk.cache import PatronCache, cache_db, open_cache
from kiosk.central_client import CentralClient, CentralUnavailable
from library_kiosk.central.store import devices, items, visits
from library_kiosk.central.store.devices import AppliedOp
from library_kiosk.central.store.lending import CirculationOp
from library_kiosk.central.store.models import Fee, Loan, UserGroup
from tests.store.factories import TODAY, group, loan, patron
from tests.sync.procs import Central, LossyProxy, kiosk_env, pusher
from tests.sync.test_processes import _integrity, _kiosk_files

PATRONS, LENT_EACH, LATE = 40, 4, 40  # 160 checkouts, 80 of them given back, 40 late loans given back: 280 ops


@pytest.fixture
def central(central_db, central_url, tmp_path):
    server = Central(central_url, str(tmp_path / "central-data")).start()
    yield server
    server.stop()


def _queue_circulation() -> dict:
    """Patrons with visits at kiosk-1, items, late loans; the outbox filled with their checkouts and returns.
    What must be true once everything is applied: {"lent": barcodes lent and kept, "returned": lent then given
    back, "late": late loans given back (fined 2 days at 0.30)}."""
    group("25")
    UserGroup.update(fine_per_day=Decimal("0.30")).where(UserGroup.code == "25").execute()
    users = [patron(f"P{i}", barcode=f"B{i}", card=f"C{i}") for i in range(PATRONS)]
    ops, lent = [], []
    for user in users:
        visit = visits.open_visit("kiosk-1", user.primary_id, verified=True)
        for n in range(LENT_EACH):
            barcode = f"4{user.id:05d}{n}"
            items.Item.create(barcode=barcode, title=f"Book {barcode}", library="MAIN")
            ops.append(("checkout", {"primary_id": user.primary_id, "item_barcode": barcode, "visit": visit}))
            lent.append(barcode)
    late = []
    for index in range(LATE):
        barcode = f"5{index:06d}"
        items.Item.create(barcode=barcode, title=f"Late {barcode}", library="MAIN")
        loan(users[index % PATRONS], barcode=barcode, due=TODAY - dt.timedelta(days=2))
        late.append(barcode)
    returned = lent[::2]
    ops += [("checkin", {"item_barcode": barcode, "library": "MAIN"}) for barcode in returned + late]
    with cache_db.connection_context():
        outbox.enqueue_many(ops)
    return {"lent": sorted(set(lent) - set(returned)), "returned": returned, "late": late, "ops": len(ops)}


def _assert_applied_once(expected: dict) -> None:
    loans = {}
    for row in Loan.select():
        loans.setdefault(row.item_barcode, []).append(row)
    assert all(len(loans[b]) == 1 and loans[b][0].status == "ON_LOAN" for b in expected["lent"])
    assert all(len(loans[b]) == 1 and loans[b][0].status == "RETURNED" for b in expected["returned"])
    assert all(len(loans[b]) == 1 and loans[b][0].status == "RETURNED" for b in expected["late"])
    fees = [fee.balance for fee in Fee.select()]
    assert fees == [Decimal("0.60")] * LATE  # each late return fined once
    assert AppliedOp.select().count() == expected["ops"] == CirculationOp.select().count()
    assert AppliedOp.select().where(AppliedOp.status != "applied").count() == 0


def test_a_proxy_losing_30_percent_of_answers_still_lends_and_returns_exactly_once(central, tmp_path):
    cache_url, _credential, token = _kiosk_files(tmp_path, central.url)
    open_cache(cache_url)
    expected = _queue_circulation()
    proxy = LossyProxy(central.port, 0.30, seed=18)
    try:
        cache = PatronCache(b"test-key")
        client = CentralClient(proxy.url, 10.0, token=token)
        failures = 0
        with cache_db.connection_context():
            while outbox.length():
                try:
                    outbox.push(client, cache, batch=5)
                except CentralUnavailable:
                    failures += 1
        assert failures > 5 and proxy.dropped > 5
    finally:
        proxy.stop()
    _assert_applied_once(expected)


def test_sigkill_during_a_replay_of_checkouts_and_returns_applies_each_once(central, tmp_path):
    cache_url, credential, _token = _kiosk_files(tmp_path, central.url)
    env = kiosk_env(cache_url, central.url, str(tmp_path / "kiosk-data"), credential)
    open_cache(cache_url)
    expected = _queue_circulation()
    total = expected["ops"]
    rng = random.Random(18)
    kills, lengths, longest, queued = 0, [], 0.25, total
    while kills < 12:
        child = pusher(env, batch=3)
        assert child.stdout.readline().strip() == "ready"
        # the kill comes at a random moment of the replay: this wait is the randomness under test (as in
        # test_processes.py), not a wait for something to happen; the progress is read after each kill
        time.sleep(rng.uniform(0.0, longest))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        kills += 1
        with cache_db.connection_context():
            lengths.append(outbox.length())
        assert _integrity(cache_url) == "ok"
        if (queued - lengths[-1]) * (12 - kills) >= lengths[-1]:  # keep every kill inside the replay
            longest /= 2
        queued = lengths[-1]
    inside = [length for length in lengths if 0 < length < total]
    assert len(inside) >= 6 and lengths[-1] > 0, f"the kills did not fall within the replay: {lengths}"
    # the last replay, to the end: a loaded machine with PostgreSQL may take more than the 3 s default for a batch
    child = pusher({**env, "KIOSK_KIOSK_CENTRAL_TIMEOUT_SECONDS": "60"}, batch=20)
    child.stdout.readline()
    assert child.wait(180) == 0
    child.stdout.close()
    with cache_db.connection_context():
        assert outbox.length() == 0
    _assert_applied_once(expected)
    assert devices.Device.get(devices.Device.name == "kiosk-1").last_seq == total
