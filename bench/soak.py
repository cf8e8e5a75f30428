"""soak: the kiosk and the station under long, realistic use; do they stay healthy?

The whole demo system runs as on a box (``kiosk demo``: central store, reader service,
kiosk and station under gunicorn, sync worker) on free ports in its own folder. For
``--minutes`` (default 10) a few clients mix what happens at a library:

- patron sessions, one at a time as at a kiosk's screen: scan (and a simulated tap at the
  reader service), PIN (sometimes mistyped first), account, renew all, Done; some walk away;
- reloads, back and forward (the attract page and the account again), help;
- event streams opened and abandoned at both apps, and streams held open a while;
- staff at the station: log in, find, open records, the fleet and calls pages;
- connections closed mid-request and mid-response.

Each app's process tree (gunicorn arbiter and worker) is sampled every 5 s: threads, open
file descriptors, resident memory; every request's latency is kept. Last line JSON:
``requests``, ``errors`` (5xx, refused or broken answers), ``stuck_requests`` (no answer
within 5 s), ``p95_ms``, and per app ``threads_growth``, ``fds_growth``, ``rss_growth_mb``:
the last sample minus the first after warm-up (the first 10% of the run, at least 30 s).
The floor here is the app's own start: growth, not absolute size, is the figure.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time

import requests

from bench.common import free_port, log, percentile

READER_AUTH: dict = {}  # the reader service's shared secret, as a header (hardware/auth.py)
STUCK_SECONDS = 5.0
SAMPLE_SECONDS = 5.0


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.stuck = 0

    def request(self, session: requests.Session, method: str, url: str, ok=(200, 302, 400, 401, 404, 409, 423),
                **kwargs) -> requests.Response | None:
        started = time.monotonic()
        try:
            response = session.request(method, url, timeout=STUCK_SECONDS, allow_redirects=False, **kwargs)
        except requests.Timeout:
            with self.lock:
                self.stuck += 1
                self.errors.append(f"{method} {url}: no answer within {STUCK_SECONDS} s")
            return None
        except requests.RequestException as exc:
            with self.lock:
                self.errors.append(f"{method} {url}: {exc}")
            return None
        with self.lock:
            self.latencies.append(time.monotonic() - started)
            if response.status_code not in ok:
                self.errors.append(f"{method} {url}: {response.status_code}")
        return response


def sample(pid: int) -> dict:
    """Threads, open file descriptors and resident MiB of a process and its children."""
    threads = fds = rss_kb = 0
    for each in [pid, *_children(pid)]:
        try:
            with open(f"/proc/{each}/status") as handle:
                for line in handle:
                    if line.startswith("Threads:"):
                        threads += int(line.split()[1])
                    elif line.startswith("VmRSS:"):
                        rss_kb += int(line.split()[1])
            fds += len(os.listdir(f"/proc/{each}/fd"))
        except OSError:
            continue
    return {"threads": threads, "fds": fds, "rss_mb": rss_kb / 1024}


def _children(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as handle:
                kids = [int(p) for p in handle.read().split()]
        except OSError:
            kids = []
        found += kids
        frontier += kids
    return found


def _serving(demo_pid: int, words: list[str]) -> int:
    """The pid of the demo's child whose command line ends with ``words`` (the gunicorn arbiter)."""
    for pid in _children(demo_pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = handle.read().decode().split("\0")[:-1]
        except OSError:
            continue
        if argv[-len(words):] == words and "library_kiosk" in argv:
            return pid
    raise RuntimeError(f"no process for {' '.join(words)}")


def _wait(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer")


# --- what people do ---------------------------------------------------------------------------------------------

def patron_session(tally: Tally, kiosk: str, barcodes: list[str], rng: random.Random, reader: str) -> None:
    session = requests.Session()
    tally.request(session, "GET", kiosk + "/")
    barcode = rng.choice(barcodes)
    answer = tally.request(session, "POST", kiosk + "/identify", data={"identifier": barcode})
    if answer is None:
        return
    if 'id="pin"' in answer.text:
        pin = "2468" if rng.random() > 0.1 else "1357"  # one in ten mistypes first
        tally.request(session, "POST", kiosk + "/pin", data={"pin": pin})
        if pin != "2468":
            tally.request(session, "POST", kiosk + "/pin", data={"pin": "2468"})
    tally.request(session, "GET", kiosk + "/account")
    if rng.random() < 0.5:
        tally.request(session, "POST", kiosk + "/renew")
    if rng.random() < 0.3:
        tally.request(session, "GET", kiosk + "/account")  # back, then forward again
        tally.request(session, "GET", kiosk + "/help")
    if rng.random() < 0.8:
        tally.request(session, "POST", kiosk + "/done")
    # else: walked away; the page's idle timer ends it in the browser, the server keeps nothing open
    if rng.random() < 0.2:
        tally.request(session, "POST", reader + "/simulate", ok=(202,), json={"kind": "barcode", "value": barcode},
                      headers=READER_AUTH)


def abandoned_stream(tally: Tally, base: str, cookie: str, hold_seconds: float) -> None:
    port = int(base.rsplit(":", 1)[1])
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=STUCK_SECONDS) as raw:
            raw.sendall(f"GET /events HTTP/1.1\r\nHost: x\r\n{cookie}\r\n".encode())
            head = raw.recv(64)
            with tally.lock:
                tally.latencies.append(time.monotonic() - started)
                if not head.startswith(b"HTTP/1.1 200"):
                    tally.errors.append(f"GET {base}/events: {head[:40]!r}")
            time.sleep(hold_seconds)
    except TimeoutError:
        with tally.lock:
            tally.stuck += 1
            tally.errors.append(f"GET {base}/events: no answer within {STUCK_SECONDS} s")
    except OSError as exc:
        with tally.lock:
            tally.errors.append(f"GET {base}/events: {exc}")


def cut_connection(base: str, path: str, after_headers: bool) -> None:
    """A client that goes away mid-request (after sending) or mid-response (after the first bytes)."""
    port = int(base.rsplit(":", 1)[1])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=STUCK_SECONDS) as raw:
            raw.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            if after_headers:
                raw.recv(16)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
    except OSError:
        pass


def staff_login(station: str, user: str, password: str) -> tuple[requests.Session, str]:
    session = requests.Session()
    form = session.get(station + "/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    session.post(station + "/login", data={"csrf_token": token, "username": user, "password": password},
                 timeout=10)
    cookie = "Cookie: " + "; ".join(f"{k}={v}" for k, v in session.cookies.items()) + "\r\n"
    return session, cookie


def staff_views(tally: Tally, session: requests.Session, station: str, rng: random.Random) -> None:
    tally.request(session, "GET", station + "/")
    tally.request(session, "GET", station + "/", params={"q": rng.choice(["a", "e", "Smith", "Ó"])})
    tally.request(session, "GET", station + f"/patrons/P{rng.randint(1, 500):07d}")
    tally.request(session, "GET", station + rng.choice(["/fleet", "/calls", "/conflicts", "/usage"]))


class Crowd:
    """The simulated people, a thread each, doing one thing after another until ``stop`` is set."""

    def __init__(self, tally: Tally, kiosk: str, station: str, reader: str, barcodes: list[str],
                 staff: tuple[str, str], patrons_at_once: bool = False):
        self.tally, self.kiosk, self.station, self.reader = tally, kiosk, station, reader
        self.barcodes, self.staff = barcodes, staff
        self.stop = threading.Event()
        # one patron at a time at a kiosk's screen, everything else concurrent; or (--patrons-at-once) every
        # simulated person a patron session of their own at once, as many screens on one kiosk web app would be
        self.at_the_kiosk = contextlib.nullcontext() if patrons_at_once else threading.Lock()

    def person(self, number: int) -> None:
        rng = random.Random(number)
        session, cookie = staff_login(self.station, *self.staff)
        while not self.stop.is_set():
            try:
                self.act(rng, session, cookie)
            except Exception as exc:  # (a broken answer is an error of the run, not of the bench)
                with self.tally.lock:
                    self.tally.errors.append(f"{type(exc).__name__}: {exc}")

    def act(self, rng: random.Random, session: requests.Session, cookie: str) -> None:
        tally, kiosk, station = self.tally, self.kiosk, self.station
        roll = rng.random()
        if roll < 0.45:
            with self.at_the_kiosk:
                patron_session(tally, kiosk, self.barcodes, rng, self.reader)
        elif roll < 0.65:
            staff_views(tally, session, station, rng)
        elif roll < 0.80:
            target, extra = (kiosk, "") if rng.random() < 0.5 else (station, cookie)
            abandoned_stream(tally, target, extra, hold_seconds=rng.choice([0, 0, 0.5, 3]))
        elif roll < 0.90:
            tally.request(requests.Session(), "GET", kiosk + "/")  # a reload
        else:
            target, path = rng.choice([(kiosk, "/"), (kiosk, "/events"), (station, "/login")])
            cut_connection(target, path, after_headers=rng.random() < 0.5)


# --- the run ----------------------------------------------------------------------------------------------------

def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench soak")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4, help="concurrent simulated people")
    parser.add_argument("--patrons-at-once", action="store_true",
                        help="patron sessions run concurrently (one per client), not one at a time")
    parser.add_argument("--dir", default=None, help="work folder (default var/bench/soak, made afresh)")
    args = parser.parse_args(argv)
    work = os.path.abspath(args.dir or "var/bench/soak")
    subprocess.run(["rm", "-rf", work], check=True)
    os.makedirs(work)
    ports = {name: free_port() for name in ("kiosk", "provisioning", "central", "readers")}
    env = dict(os.environ, PYTHONUNBUFFERED="1", KIOSK_DATA_DIR=work, KIOSK_KIOSK_PORT=str(ports["kiosk"]),
               KIOSK_PROVISIONING_PORT=str(ports["provisioning"]), KIOSK_CENTRAL_PORT=str(ports["central"]),
               KIOSK_KIOSK_CENTRAL_URL=f"http://127.0.0.1:{ports['central']}",
               KIOSK_READERS_SERVICE_URL=f"http://127.0.0.1:{ports['readers']}",
               # people at one kiosk much faster than a library's: the PIN rate limits would refuse them
               KIOSK_CENTRAL_PIN_CHECKS_PER_DEVICE_PER_MINUTE="1000000", KIOSK_KIOSK_WRONG_PINS_PER_MINUTE="1000000")
    env.pop("KIOSK_CONFIG", None)
    kiosk, station = f"http://127.0.0.1:{ports['kiosk']}", f"http://127.0.0.1:{ports['provisioning']}"
    reader = f"http://127.0.0.1:{ports['readers']}"
    log(f"starting the demo system in {work}")
    output = open(os.path.join(work, "demo.log"), "w")  # the system's own messages, for a failed run
    demo = subprocess.Popen([sys.executable, "-m", "library_kiosk", "demo"], env=env, cwd=work,
                            stdout=output, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        _wait(kiosk + "/health")
        _wait(station + "/health")
        _wait(reader + "/status")
        from hardware.auth import client_secret, header

        READER_AUTH.update(header(client_secret(os.path.join(work, "reader.secret"))))  # the service made it
        deadline, barcodes, text = time.monotonic() + 60, [], ""
        while not barcodes and time.monotonic() < deadline:  # the demo prints them once everything answers
            time.sleep(0.5)
            with open(os.path.join(work, "demo.log")) as printed:
                text = printed.read()
            barcodes = [m.group(1) for m in re.finditer(r"^\s+(\d{8,})\s+ok", text, re.M)]
        if not barcodes:
            raise RuntimeError("the demo printed no barcodes:\n" + text)
        from library_kiosk.central.store.staff import DEMO_STAFF_PASSWORD, DEMO_STAFF_USER

        pids = {"kiosk": _serving(demo.pid, ["serve"]), "station": _serving(demo.pid, ["provisioning", "serve"])}
        return _soak(args, kiosk, station, reader, barcodes, (DEMO_STAFF_USER, DEMO_STAFF_PASSWORD), pids)
    finally:
        os.killpg(demo.pid, 15)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, 9)
        output.close()


def _soak(args, kiosk, station, reader, barcodes, staff, pids) -> dict:
    tally = Tally()
    crowd = Crowd(tally, kiosk, station, reader, barcodes, staff, args.patrons_at_once)
    duration = args.minutes * 60
    warmup = max(30.0, duration * 0.1)
    samples: dict[str, list[dict]] = {name: [] for name in pids}
    workers = [threading.Thread(target=crowd.person, args=(n,), daemon=True) for n in range(args.clients)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    log(f"soaking for {args.minutes:g} minutes with {args.clients} clients")
    _watch(tally, pids, samples, started, duration, warmup)
    crowd.stop.set()
    for worker in workers:
        worker.join(STUCK_SECONDS * 3)
    time.sleep(SAMPLE_SECONDS)  # streams of the last departed clients end keepalive by keepalive
    for name, pid in pids.items():
        samples[name].append(sample(pid))
    return _figures(args, tally, samples)


def _watch(tally: Tally, pids: dict[str, int], samples: dict[str, list[dict]], started: float, duration: float,
           warmup: float) -> None:
    """Until the run's end, every SAMPLE_SECONDS: sample the apps (once warmed up) and log how the run goes."""
    while time.monotonic() - started < duration:
        time.sleep(SAMPLE_SECONDS)
        elapsed = time.monotonic() - started
        if elapsed >= warmup:
            for name, pid in pids.items():
                samples[name].append(sample(pid))
        with tally.lock:
            done, errors, stuck = len(tally.latencies), len(tally.errors), tally.stuck
        log(f"  {elapsed:5.0f} s: {done} requests, {errors} errors, {stuck} stuck; "
            + "; ".join(f"{n} {s[-1]['threads']} threads {s[-1]['fds']} fds {s[-1]['rss_mb']:.0f} MiB"
                        for n, s in samples.items() if s))


def _figures(args, tally: Tally, samples: dict[str, list[dict]]) -> dict:
    """The last line's figures: requests, errors, latency, and each app's growth from the first sample to the
    last (the worst app's as ``threads_growth``, ``fds_growth``, ``rss_growth_mb``)."""
    figures = {"minutes": args.minutes, "clients": args.clients, "requests": len(tally.latencies) + tally.stuck,
               "errors": len(tally.errors), "stuck_requests": tally.stuck,
               "p95_ms": round(percentile(tally.latencies, 0.95) * 1000, 1) if tally.latencies else None,
               "first_errors": tally.errors[:5]}
    for name, rows in samples.items():
        first, last = rows[0], rows[-1]
        figures[f"{name}_threads_growth"] = last["threads"] - first["threads"]
        figures[f"{name}_fds_growth"] = last["fds"] - first["fds"]
        figures[f"{name}_rss_growth_mb"] = round(last["rss_mb"] - first["rss_mb"], 1)
    figures["threads_growth"] = max(figures[f"{n}_threads_growth"] for n in samples)
    figures["fds_growth"] = max(figures[f"{n}_fds_growth"] for n in samples)
    figures["rss_growth_mb"] = max(figures[f"{n}_rss_growth_mb"] for n in samples)
    return figures
