"""Sync with real processes over HTTP on loopback: the central store stopped and started, a kiosk
killed with SIGKILL during a replay and during a first sync, a proxy that loses answers."""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from kiosk import outbox, services, sync
from kiosk.cache import PatronCache, cache_db, open_cache
from kiosk.central_client import CentralClient, CentralUnavailable
from kiosk.devices import save_credential
from library_kiosk.central.store import devices
from library_kiosk.central.store.devices import AppliedOp
from library_kiosk.central.store.kiosk_calls import StaffCall
from library_kiosk.central.store.models import Loan, User
from tests.helpers import wait_until
from tests.kiosk.helpers import identify
from tests.store.factories import loan, patron
from tests.sync.procs import Central, LossyProxy, cache_checksum, central_checksum, kiosk_env, pusher

FIRST_SYNC_PATRONS = int(os.environ.get("KIOSK_TEST_SYNC_PATRONS", "100000"))  # the brief's figure


@pytest.fixture
def central(central_db, central_url, tmp_path):
    server = Central(central_url, str(tmp_path / "central-data")).start()
    yield server
    server.stop()


def _kiosk_files(tmp_path, central_url, name="kiosk-1"):
    credential = str(tmp_path / "device.json")
    _name, token = devices.enrol(devices.add(name, replace=True))
    save_credential(credential, {"device": name, "token": token, "central_url": central_url})
    cache_url = f"sqlite:///{tmp_path}/kiosk-cache.db"
    return cache_url, credential, token


def _integrity(cache_url):
    connection = sqlite3.connect(cache_url[len("sqlite:///"):])
    try:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        connection.close()


def test_central_stopped_while_patrons_renew_then_every_change_applied_once(central, kiosk_app, tmp_path):
    users = [patron(f"P{i}", barcode=f"B{i}", card=f"C{i}") for i in range(4)]
    loans = [loan(u, f"Book {u.primary_id}-{n}", barcode=f"3{u.id:06d}{n}") for u in users for n in range(2)]
    kiosk_app.config["KIOSK"]["kiosk"].update(central_url=central.url, offline_renewals="local",
                                              central_timeout_seconds=2.0)
    client = kiosk_app.extensions["central"]
    client.base_url = central.url
    cache = kiosk_app.extensions["patron_cache"]
    with cache_db.connection_context():
        sync.pull(client, cache)
    visits = {}  # the patrons at the kiosk, identified (card and PIN) while the central store answers
    for user in users:
        with kiosk_app.test_request_context(), cache_db.connection_context():
            visits[user.primary_id] = identify(f"B{user.primary_id[1:]}")[1]
    outcomes = []
    for index, item in enumerate(loans):
        if index == 3:
            central.stop()  # the central store goes down while patrons renew
        with kiosk_app.test_request_context(), cache_db.connection_context():
            account = services.get_patron(item.user.primary_id)
            outcomes += services.renew(account, [item.id], visits[item.user.primary_id])
    assert all(o.renewed for o in outcomes)
    assert [o.pending for o in outcomes] == [False] * 3 + [True] * 5
    central.start()
    with kiosk_app.test_request_context(), cache_db.connection_context():
        assert sync.cycle(client, cache)["error"] == ""
        assert outbox.length() == 0
    assert [Loan.get_by_id(item.id).renewals for item in loans] == [1] * 8
    assert AppliedOp.select().count() == 8


def test_sigkill_during_a_replay_of_1000_changes_loses_nothing_and_applies_nothing_twice(central, tmp_path):
    cache_url, credential, _token = _kiosk_files(tmp_path, central.url)
    env = kiosk_env(cache_url, central.url, str(tmp_path / "kiosk-data"), credential)
    open_cache(cache_url)
    with cache_db.connection_context():
        outbox.enqueue_many([("call_staff", {"reason": "help", "primary_id": f"P{i}"}) for i in range(1000)])
    rng = random.Random(20)
    kills, lengths, longest, queued = 0, [], 0.12, 1000
    while kills < 24:
        child = pusher(env, batch=3)
        assert child.stdout.readline().strip() == "ready"
        # the kill comes at a random moment of the replay: this wait is the randomness under test, not a wait
        # for something to happen (the replay's progress is read after each kill, below)
        time.sleep(rng.uniform(0.0, longest))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        kills += 1
        with cache_db.connection_context():
            lengths.append(outbox.length())
        assert _integrity(cache_url) == "ok"
        # a fast machine would finish the replay before the last kill: keep every kill inside it
        if (queued - lengths[-1]) * (24 - kills) >= lengths[-1]:
            longest /= 2
        queued = lengths[-1]
    # a loaded machine can be slow to start the first push: a kill before it is harmless, so what is asked is
    # that most kills fell inside the replay, and the last one before its end
    inside = [length for length in lengths if 0 < length < 1000]
    assert len(inside) >= 12 and lengths[-1] > 0, f"the kills did not fall within the replay: {lengths}"
    child = pusher(env, batch=50)
    child.stdout.readline()
    assert child.wait(120) == 0
    child.stdout.close()
    with cache_db.connection_context():
        assert outbox.length() == 0
    assert _integrity(cache_url) == "ok"
    assert StaffCall.select().count() == 1000 and AppliedOp.select().count() == 1000
    assert sorted(c.primary_id for c in StaffCall.select()) == sorted(f"P{i}" for i in range(1000))
    assert devices.Device.get(devices.Device.name == "kiosk-1").last_seq == 1000


def test_a_proxy_losing_30_percent_of_answers_still_gives_exactly_once(central, tmp_path):
    cache_url, _credential, token = _kiosk_files(tmp_path, central.url)
    proxy = LossyProxy(central.port, 0.30)
    try:
        open_cache(cache_url)
        cache = PatronCache(b"test-key")
        client = CentralClient(proxy.url, 10.0, token=token)
        with cache_db.connection_context():
            outbox.enqueue_many([("call_staff", {"reason": "help", "primary_id": f"P{i}"}) for i in range(1000)])
            failures = 0
            while outbox.length():
                try:
                    outbox.push(client, cache, batch=10)
                except CentralUnavailable:
                    failures += 1
        assert failures > 10 and proxy.dropped > 10
    finally:
        proxy.stop()
    assert StaffCall.select().count() == 1000 and AppliedOp.select().count() == 1000
    assert len({c.primary_id for c in StaffCall.select()}) == 1000


@pytest.mark.slow  # a first sync of 100,000 patrons (KIOSK_TEST_SYNC_PATRONS): about a minute
def test_sigkill_during_a_first_sync_resumes_from_its_checkpoint(central, tmp_path):
    from library_kiosk.central.store import demo

    demo.generate(FIRST_SYNC_PATRONS, seed=3)
    cache_url, credential, _token = _kiosk_files(tmp_path, central.url)
    env = kiosk_env(cache_url, central.url, str(tmp_path / "kiosk-data"), credential)
    command = [sys.executable, "-m", "library_kiosk", "sync", "once"]
    cursors = []
    rng = random.Random(5)
    for _ in range(3):
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        start_cursor = cursors[-1] if cursors else 0
        target = start_cursor + rng.uniform(1, 4) * 1000  # pages beyond where it started
        wait_until(lambda child=child, target=target: _cursor(cache_url) >= target or child.poll() is not None, 60,
                   "the first sync gets a few pages further", every=0.02)
        child.send_signal(signal.SIGKILL)
        child.wait()
        cursors.append(_cursor(cache_url))
        assert _integrity(cache_url) == "ok"
    assert cursors[0] > 0 and cursors == sorted(cursors) and cursors[-1] < User.select().count()
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert cache_checksum(cache_url[len("sqlite:///"):]) == central_checksum()
    assert cache_checksum(cache_url[len("sqlite:///"):])[0] == FIRST_SYNC_PATRONS


def _cursor(cache_url) -> int:
    try:
        connection = sqlite3.connect(cache_url[len("sqlite:///"):], timeout=5)
        row = connection.execute("SELECT value FROM sync_state WHERE name = 'cursor'").fetchone()
        connection.close()
        return int(row[0]) if row else 0
    except sqlite3.OperationalError:
        return 0


def test_a_locked_kiosk_cache_makes_the_sync_worker_wait_not_exit(central, tmp_path):
    """The web app (or anything) holding the cache's write lock longer than the busy timeout: the worker says
    so, backs off and carries on, and applies the change once the lock is gone (it used to exit for good)."""
    patron("P1")
    cache_url, credential, _token = _kiosk_files(tmp_path, central.url)
    env = kiosk_env(cache_url, central.url, str(tmp_path / "kiosk-data"), credential)
    assert subprocess.run([sys.executable, "-m", "library_kiosk", "sync", "once"], env=env, capture_output=True,
                          timeout=120).returncode == 0
    patron("P2", barcode="B2", card="C2")  # a change the worker must pull while the cache is locked
    holder = sqlite3.connect(cache_url[len("sqlite:///"):], isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    worker = subprocess.Popen([sys.executable, "-m", "library_kiosk", "sync", "run", "--interval", "0.2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        import select

        assert select.select([worker.stderr], [], [], 60)[0], "the worker said nothing in 60 s"
        said = worker.stderr.readline()  # what it says after its busy timeout
        assert "the kiosk cache cannot be used just now" in said and "locked" in said
        assert worker.poll() is None  # still running
        holder.execute("ROLLBACK")
        holder.close()

        def applied() -> bool:  # the worker still running, and the change in the cache
            assert worker.poll() is None, worker.stderr.read()
            return cache_checksum(cache_url[len("sqlite:///"):])[0] >= 2

        wait_until(applied, 60, "the worker applies the change once the lock is gone", every=0.1)
        assert cache_checksum(cache_url[len("sqlite:///"):]) == central_checksum()
    finally:
        worker.terminate()
        worker.wait(10)
        worker.stderr.close()
