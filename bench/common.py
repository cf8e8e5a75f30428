"""Helpers shared by the benchmarks: data sets, percentiles, processes, memory."""
from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time

import requests


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(samples_s: list[float]) -> dict:
    ms = [s * 1000 for s in samples_s]
    return {
        "p50_ms": round(statistics.median(ms), 3),
        "p95_ms": round(percentile(ms, 0.95), 3),
        "p99_ms": round(percentile(ms, 0.99), 3),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], env: dict, health_url: str, seconds: float = 60) -> subprocess.Popen:
    """Start a server process and wait until ``health_url`` answers."""
    process = subprocess.Popen(command, env={**os.environ, **env})
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command} exited with {process.returncode}")
        try:
            requests.get(health_url, timeout=1)
            return process
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{command} did not answer at {health_url}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def peak_rss_mb(pid: int) -> float:
    """The largest peak resident set (VmHWM) of a process and its children, in MiB."""
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            pids += [int(p) for p in handle.read().split()]
    except OSError:
        pass
    peak = 0
    for each in pids:
        try:
            with open(f"/proc/{each}/status") as handle:
                for line in handle:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return round(peak / 1024, 1)


def build_central(url: str, patrons: int, seed: int = 1) -> None:
    """A central store with ``patrons`` demo patrons (reused if it already holds them)."""
    from library_kiosk.central.store import demo, schema
    from library_kiosk.central.store.models import User

    db = schema.init(url)
    with db.connection_context():
        if User.select().count() == patrons:
            log(f"reusing the central store with {patrons:,} patrons")
            return
        started = time.monotonic()
        demo.generate(patrons, seed=seed, progress=lambda d, t: log(f"  generated {d:,}/{t:,}") if d % 50000 == 0
                      or d == t else None)
        log(f"generated {patrons:,} patrons in {time.monotonic() - started:.1f} s")
