"""replay: a kiosk's outbox of N queued operations pushed to the central store over HTTP.

The central store runs as its own process; N operations (calls for staff: one row each at
the central store) are queued in a fresh kiosk cache and replayed with ``kiosk.outbox.push``
(batches of ``--batch``, each key applied once with its answer stored). ``ops_per_s`` is
operations applied per second end to end.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from bench.common import free_port, log, start, stop


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench replay")
    parser.add_argument("--ops", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args(argv)
    work = os.path.abspath(args.dir or "var/bench/replay")
    os.makedirs(work, exist_ok=True)
    for name in ("central.db", "kiosk-cache.db"):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(os.path.join(work, name + suffix)):
                os.remove(os.path.join(work, name + suffix))
    central_db = f"sqlite:///{work}/central.db"
    from library_kiosk.central.store import devices, schema

    db = schema.init(central_db)
    with db.connection_context():
        _name, token = devices.enrol(devices.add("bench-kiosk", replace=True))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"KIOSK_CENTRAL_DATABASE_URL": central_db, "KIOSK_CENTRAL_PORT": str(port), "KIOSK_DATA_DIR": work}
    central = start([sys.executable, "-m", "library_kiosk", "central", "serve", "--workers", "1"], env, url + "/health")
    try:
        from kiosk import outbox
        from kiosk.cache import PatronCache, cache_db, open_cache
        from kiosk.central_client import CentralClient

        open_cache(f"sqlite:///{work}/kiosk-cache.db")
        cache = PatronCache(b"bench")
        client = CentralClient(url, 60.0, token=token)
        with cache_db.connection_context():
            outbox.enqueue_many([("call_staff", {"reason": "help", "primary_id": f"P{i}"}) for i in range(args.ops)])
            t0 = time.perf_counter()
            summary = outbox.push(client, cache, batch=args.batch)
            elapsed = time.perf_counter() - t0
            left = outbox.length()
        log(f"replayed {summary['applied']:,} operations in {elapsed:.2f} s")
    finally:
        stop(central)
    from library_kiosk.central.store.kiosk_calls import StaffCall

    with db.connection_context():
        applied = StaffCall.select().count()
    return {"benchmark": "replay", "ops": args.ops, "applied_at_central": applied, "outbox_left": left,
            "batch": args.batch, "replay_s": round(elapsed, 2), "ops_per_s": round(args.ops / elapsed)}
