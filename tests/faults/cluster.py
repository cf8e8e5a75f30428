"""The processes of the fault checker: the central store (``tests/sync/procs.Central``: gunicorn), and per kiosk a
proxy in front of the central store (answers lost, or the central store unreachable), the kiosk's app as an agent
process (tests/faults/agent.py) over its real cache file, and pushers (the sync worker's push, killable)."""
from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import threading
import time
from http.server import ThreadingHTTPServer

from tests.sync.procs import PUSHER, ROOT, Central, kiosk_env, lossy_handler

FAKETIME_LIB = os.path.join(ROOT, ".venv", "libfaketime", "libfaketime.so.1")


class FaultProxy:
    """Forwards to the central store on ``upstream_port``. ``loss``: the share of answers dropped after the
    central store answered (the connection closed without a response). ``down()``: the listening socket is
    closed (connections refused: the kiosk is offline); ``up()`` opens it again on the same port."""

    def __init__(self, upstream_port: int, seed: int):
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.loss = 0.0
        self.dropped = 0
        self.upstream_port = upstream_port
        self.port = 0
        self.server = None
        self.thread = None
        self.up()
        self.url = f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        if self.server is not None:
            return
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), lossy_handler(self))
        self.server.daemon_threads = True
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def down(self) -> None:
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        self.server = None


class Kiosk:
    """One kiosk: its device at the central store, its cache file, its proxy, its agent process."""

    def __init__(self, name: str, work: str, central: Central, token: str, seed: int, clock_offset: str = ""):
        from kiosk.devices import save_credential

        self.name = name
        self.proxy = FaultProxy(central.port, seed)
        os.makedirs(os.path.join(work, name), exist_ok=True)
        credential = os.path.join(work, name, "device.json")
        save_credential(credential, {"device": name, "token": token, "central_url": self.proxy.url})
        self.cache_path = os.path.join(work, name, "cache.db")
        self.cache_url = f"sqlite:///{self.cache_path}"
        env = kiosk_env(self.cache_url, self.proxy.url, os.path.join(work, name, "data"), credential)
        env.pop("KIOSK_CLOCK_DAY", None)  # every process on the machine's clock (the day is the data's, below)
        env.update(KIOSK_KIOSK_DEVICE_NAME=name, KIOSK_KIOSK_OFFLINE_RENEWALS="local",
                   KIOSK_KIOSK_CENTRAL_TIMEOUT_SECONDS="3", KIOSK_KIOSK_WRONG_PINS_PER_MINUTE="1000",
                   KIOSK_KIOSK_SECRET_KEY="faults", KIOSK_READERS_SERVICE_URL="http://127.0.0.1:9")
        self.clock_offset = clock_offset
        if clock_offset:  # this box's clock is wrong: every process of the kiosk under libfaketime
            env.update(LD_PRELOAD=FAKETIME_LIB, FAKETIME=clock_offset, FAKETIME_DONT_FAKE_MONOTONIC="1")
        self.env = env
        self.log = open(os.path.join(work, name, "agent.log"), "w")
        self.agent = subprocess.Popen([sys.executable, "-m", "tests.faults.agent"], env=env, cwd=ROOT, text=True,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
        self.pushers: list[subprocess.Popen] = []
        try:
            ready = self.read(120)
            if not ready.get("ready"):
                raise RuntimeError(f"the agent of {name} did not start: {ready}")
        except BaseException:
            self.close()
            raise

    def send(self, command: dict) -> None:
        self.agent.stdin.write(json.dumps(command) + "\n")
        self.agent.stdin.flush()

    def read(self, seconds: float = 120) -> dict:
        if not select.select([self.agent.stdout], [], [], seconds)[0]:
            raise RuntimeError(f"the agent of {self.name} gave no answer in {seconds} s")
        line = self.agent.stdout.readline()
        if not line:
            raise RuntimeError(f"the agent of {self.name} exited ({self.agent.poll()}); see its agent.log")
        return json.loads(line)

    def ask(self, command: dict, seconds: float = 120) -> dict:
        self.send(command)
        return self.read(seconds)

    def start_pusher(self, batch: int = 1) -> subprocess.Popen:
        child = subprocess.Popen([sys.executable, "-c", PUSHER, str(batch)], env=self.env, stdout=subprocess.PIPE,
                                 stderr=self.log, text=True)
        self.pushers.append(child)
        return child

    def kill_pusher_mid_push(self, child: subprocess.Popen, after: float) -> bool:
        """SIGKILL ``child`` ``after`` seconds into its push; True when it was still pushing then."""
        child.stdout.readline()  # "ready": connected to its cache, about to push
        # the moment of the kill is the randomness under test, not a wait for something to happen
        time.sleep(after)
        alive = child.poll() is None
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        return alive

    def finish_pusher(self, child: subprocess.Popen, seconds: float = 120) -> int:
        code = child.wait(seconds)
        child.stdout.close()
        return code

    def close(self) -> None:
        for child in self.pushers:
            if child.poll() is None:
                child.kill()
                child.wait()
            if not child.stdout.closed:
                child.stdout.close()
        if self.agent.poll() is None:
            self.agent.stdin.close()
            try:
                self.agent.wait(10)
            except subprocess.TimeoutExpired:
                self.agent.kill()
                self.agent.wait()
        self.agent.stdout.close()
        self.log.close()
        self.proxy.down()
