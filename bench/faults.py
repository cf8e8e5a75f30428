"""faults: the fault checker (tests/faults/, docs/sync.md "Fault checker") for ``--minutes``: a central store and
three kiosks as real processes, rounds of a generated history of patron actions (renewals online and offline, the
same loan at two kiosks at once, wrong PINs, calls for staff, syncs) while faults come and go (SIGKILLs mid-push,
lost answers, concurrent pushes, a full and a read-only cache, PostgreSQL backends killed, a kiosk clock 40 days
fast), each round healed and checked. Prints the seed (``--seed S`` replays the same histories), the operations,
the faults injected by kind, and the violations, which must be 0.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import sys
import time
import uuid

from bench.common import log

PG_DEFAULT = "postgresql://127.0.0.1:5432/test"


@contextlib.contextmanager
def _database(kind: str, work: str):
    """The central store's database: a file under ``work``, or a PostgreSQL database of its own on the server of
    ``KIOSK_TEST_PG`` (or the URL given), created for the run and dropped after it."""
    if kind == "sqlite":
        yield f"sqlite:///{work}/central.db"
        return
    import psycopg2

    admin_url = os.environ.get("KIOSK_TEST_PG", PG_DEFAULT) if kind == "postgres" else kind
    name = f"kiosk_faults_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(admin_url, connect_timeout=5)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
        with admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        admin.close()


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench faults")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--db", default="sqlite", help="sqlite, postgres (KIOSK_TEST_PG) or a PostgreSQL URL")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--steps", type=int, default=40, help="steps of history per round")
    parser.add_argument("--dir", default=None)
    args = parser.parse_args(argv)
    # stopped by a signal (even started in the background, where SIGINT is ignored): its processes end with it
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    log(f"faults: seed {seed} (replay with --seed {seed})")
    work = os.path.abspath(args.dir or "var/bench/faults")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    with _database(args.db, work) as url:
        run, started = _run(url, work, seed, args)
    figures = run.figures(started)
    if run.violations:
        log(run.replay_hint())
    return {"benchmark": "faults", **figures}


def _run(url: str, work: str, seed: int, args):
    from library_kiosk.central.store import schema
    from tests.faults.run import FaultRun

    db = schema.init(url)
    started = time.monotonic()
    run = FaultRun(url, work, seed)
    try:
        with db.connection_context():
            run.start()
            while True:
                found = run.play_round(args.steps)
                log(f"  round {run.round}: {run.operations} operations, faults {dict(run.nemesis.injected)}, "
                    f"violations {len(run.violations)}" + (f": {found[:3]}" if found else ""))
                if time.monotonic() - started >= args.minutes * 60:
                    break
    finally:
        run.stop()
        db.close()
    return run, started
