"""fleet: N enrolled kiosks polling the central store (PostgreSQL, gunicorn) for changes.

The central store runs as in a fleet (``kiosk central serve`` under gunicorn, on
a fresh PostgreSQL database with a demo library). N devices are enrolled; the
load generator (wrk, C) sends steady-state polls, ``GET /api/v1/sync/changes``
after the current cursor with each kiosk's own device token in turn, so the
server authenticates N different devices and records each one's pull. Reports
``polls_per_s`` and the latency percentiles wrk measured.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

from bench.common import free_port, log, start, stop

LUA = r"""
local tokens = {TOKENS}
local i = 0
request = function()
  i = i + 1
  local token = tokens[(i % #tokens) + 1]
  return wrk.format("GET", "/api/v1/sync/changes?after={CURSOR}&limit=500", {["Authorization"] = "Bearer " .. token})
end
done = function(summary, latency, requests)
  io.write(string.format('{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d}\n', summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def fresh_postgres(admin_url: str):
    """A new PostgreSQL database for this run, and a function that drops it."""
    import psycopg2

    name = f"bench_fleet_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')

    def drop():
        from library_kiosk.central.store.db import database

        if database.obj is not None and not database.obj.is_closed():
            database.obj.close()
        with admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                           "AND pid <> pg_backend_pid()", (name,))
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()
    return f"{admin_url.rsplit('/', 1)[0]}/{name}", drop


def enrol_fleet(url: str, kiosks: int, patrons: int) -> tuple[list[str], int]:
    from library_kiosk.central.store import changes, demo, devices, schema

    db = schema.init(url)
    with db.connection_context():
        demo.generate(patrons, seed=1)
        tokens = [devices.enrol(devices.add(f"kiosk-{n:04d}"))[1] for n in range(kiosks)]
        return tokens, changes.latest_seq()


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench fleet")
    parser.add_argument("--kiosks", type=int, default=1000)
    parser.add_argument("--patrons", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections wrk keeps open")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers of the central store")
    parser.add_argument("--db", default="postgresql://127.0.0.1:5432/test", help="an existing database to "
                        "connect to; the run creates and drops its own beside it")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    url, drop = fresh_postgres(args.db)
    server = None
    work = tempfile.mkdtemp(prefix="bench-fleet-")
    try:
        tokens, cursor = enrol_fleet(url, args.kiosks, args.patrons)
        log(f"{len(tokens)} kiosks enrolled; the store's change cursor is {cursor}")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start([sys.executable, "-m", "library_kiosk", "central", "serve", "--workers", str(args.workers)],
                       {"KIOSK_CENTRAL_DATABASE_URL": url, "KIOSK_CENTRAL_PORT": str(port), "KIOSK_DATA_DIR": work},
                       base + "/health")
        script = os.path.join(work, "poll.lua")
        with open(script, "w") as handle:
            handle.write(LUA.replace("{TOKENS}", json.dumps(tokens).replace("[", "{").replace("]", "}"))
                         .replace("{CURSOR}", str(cursor)))
        subprocess.run(["wrk", "-t1", "-c", str(args.connections), "-d", "3s", "-s", script, base],
                       capture_output=True, check=True)  # warm up every worker's connections
        result = subprocess.run(["wrk", "-t2", "-c", str(args.connections), "-d", f"{args.seconds}s",
                                 "--timeout", "5s", "-s", script, base], capture_output=True, text=True, check=True)
        figures = json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        if server:
            stop(server)
        drop()
        shutil.rmtree(work, ignore_errors=True)
    if figures["non_2xx"] or figures["socket_errors"]:
        raise SystemExit(f"polls failed: {figures}")
    return {"benchmark": "fleet", "kiosks": args.kiosks, "connections": args.connections,
            "polls": figures["requests"], "polls_per_s": round(figures["requests"] / (figures["duration_us"] / 1e6)),
            "p50_ms": figures["p50_us"] / 1000, "p95_ms": figures["p95_us"] / 1000,
            "p99_ms": figures["p99_us"] / 1000}
