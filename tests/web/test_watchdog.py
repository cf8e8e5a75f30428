"""A hung web app stops its systemd watchdog pings (so systemd restarts it) and `kiosk doctor` reports it."""
import os
import socket
import subprocess
import sys
import threading
import urllib.request

from library_kiosk.appliance import doctor
from tests import reaper
from tests.helpers import free_port, wait_until

THREADS = 2


def _messages(sock, count):
    return [sock.recv(100).decode() for _ in range(count)]


def test_a_hung_app_stops_the_watchdog_pings_and_doctor_says_so(tmp_path):
    path, release, port = tmp_path / "notify", tmp_path / "release", free_port()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(20)
        process = subprocess.Popen([sys.executable, "-m", "tests.web.hung_app", str(port), str(THREADS)],
                                   env=dict(os.environ, NOTIFY_SOCKET=str(path), WATCHDOG_USEC="400000",
                                            HUNG_APP_RELEASE=str(release)),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            ready, *pings = _messages(sock, 3)
            assert ready.startswith("READY=1") and pings == ["WATCHDOG=1"] * 2  # answering: pinged
            config = {"provisioning": {"host": "127.0.0.1", "port": port}}
            assert doctor.check_app_answers(config, "provisioning", "station app").status == "PASS"

            blocked = [threading.Thread(target=urllib.request.urlopen, args=(f"http://127.0.0.1:{port}/block",),
                                        kwargs={"timeout": 60}) for _ in range(THREADS)]
            for thread in blocked:
                thread.start()
            entered = tmp_path / "release.entered"
            wait_until(lambda: entered.exists() and len(entered.read_text()) == THREADS, 20,
                       "every blocking request is in /block")
            check = doctor.check_app_answers(config, "provisioning", "station app")  # takes its 1 s probe
            assert check.status == "FAIL" and "did not answer within 1 s" in check.finding
            sock.settimeout(1.5)
            late = 0
            while late < 5:  # pings already in flight when the threads filled up are drained ...
                try:
                    sock.recv(100)
                    late += 1
                except TimeoutError:
                    break  # ... then none for 1.5 s, where a live app is pinged every 0.2 s
            assert late < 5, "the watchdog kept pinging a hung app"
            release.touch()
            for thread in blocked:
                thread.join(30)
            sock.settimeout(20)
            assert sock.recv(100).decode() == "WATCHDOG=1"  # answering again: pinged again
        finally:
            reaper.stop(process)
