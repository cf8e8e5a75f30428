"""The kiosk and the station never freeze: served as in production (gunicorn, ``kiosk serve`` and ``kiosk
provisioning serve``) in front of the real reader service, pages and streams left open and abandoned in real
Chromium and by raw clients leave both apps answering at once; a stream over the bound gets the documented
answer; a tap still reaches a page opened afterwards."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from hardware import client as reader_client
from tests import reaper
from tests.helpers import free_port, reader_service_process, wait_until
from tests.provisioning.helpers import PASSWORDS

pytestmark = pytest.mark.browser


def _get(url: str, timeout: float = 2.0) -> tuple[int, float]:
    """(status, seconds) of a GET that must be answered within ``timeout`` seconds."""
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        response.read()
        return response.status, time.monotonic() - started


def _streams(base: str) -> int:
    with urllib.request.urlopen(base + "/health", timeout=2) as response:
        return json.load(response)["event_streams"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The reader service, the kiosk and the station, each its own process as on a box; their URLs."""
    folder = tmp_path_factory.mktemp("served")
    with reader_service_process(folder, "Desk reader") as reader_url:
        kiosk_port, station_port = free_port(), free_port()
        config = folder / "kiosk.toml"
        config.write_text(
            f'data_dir = "{folder}"\n'
            f'[central]\ndatabase_url = "sqlite:///{folder}/central.db"\n'
            f'[kiosk]\nport = {kiosk_port}\ncentral_url = "http://127.0.0.1:9"\nevent_keepalive_seconds = 1.0\n'
            f'[provisioning]\nport = {station_port}\nevent_keepalive_seconds = 1.0\n'
            f'[readers]\nservice_url = "{reader_url}"\n')
        env = dict(os.environ, KIOSK_CONFIG=str(config))
        from kiosk import device_keys

        # keys as a kiosk keeps them after a sync (there is no central store here): cards can be looked up
        device_keys.save(str(folder / "run" / "device-keys.json"),
                         device_keys.DeviceKeys(os.urandom(32), os.urandom(32), 6))
        subprocess.run([sys.executable, "-m", "library_kiosk", "staff", "add", "admin", "--role", "administrator",
                        "--password-stdin"], input=PASSWORDS["admin"], text=True, env=env, check=True,
                       capture_output=True)
        processes = [subprocess.Popen([sys.executable, "-m", "library_kiosk", *command], env=env, cwd=folder,
                                      stdout=subprocess.DEVNULL, start_new_session=True)
                     for command in (["serve"], ["provisioning", "serve"])]
        urls = {"kiosk": f"http://127.0.0.1:{kiosk_port}", "station": f"http://127.0.0.1:{station_port}",
                "reader": reader_url}
        try:
            for base in (urls["kiosk"], urls["station"]):
                wait_until(lambda base=base: _answers(base), 30, f"{base} starts")
            yield urls
        finally:
            for process in processes:
                reaper.stop(process)


def _answers(base: str) -> bool:
    try:
        return _get(base + "/health")[0] == 200
    except OSError:
        return False


@pytest.mark.slow  # 50 pages opened and abandoned in real Chromium, on each app: about a minute
def test_pages_opened_and_abandoned_50_times_leave_both_apps_answering(served, browser):
    kiosk, station = served["kiosk"], served["station"]
    context = browser.new_context(viewport={"width": 800, "height": 480})
    try:
        for _ in range(50):
            page = context.new_page()
            page.goto(kiosk + "/")
            page.wait_for_function("document.querySelector('[sse-connect]') !== null")
            page.close()
        assert _get(kiosk + "/")[0] == 200
        login = context.new_page()
        login.goto(station + "/login")
        login.fill("#username", "admin")
        login.fill("#password", PASSWORDS["admin"])
        login.click("text=Log in")
        login.wait_for_url(lambda url: "/login" not in url)
        login.close()
        for _ in range(50):
            page = context.new_page()
            page.goto(station + "/")  # Find patron: a page that uses the desk reader, so it opens a stream
            page.wait_for_selector("#reader-status:has-text(\"online\")")
            page.close()
        assert _get(station + "/login")[0] == 200 and _get(kiosk + "/")[0] == 200
        # and the readers still reach a page opened now
        page = context.new_page()
        page.goto(kiosk + "/")
        page.wait_for_function("document.querySelector('#reader-status') !== null")
        wait_until(lambda: _streams(kiosk) >= 1, 10, "the kiosk page's stream is open")
        reader_client.simulate(served["reader"], "barcode", "21000000000999")
        page.wait_for_selector("text=not registered", timeout=10000)
    finally:
        context.close()


def _staff_cookie(station: str) -> str:
    """A logged-in staff session's Cookie header, from the login form as a browser posts it."""
    import re

    import requests

    session = requests.Session()
    form = session.get(station + "/login", timeout=5).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    answer = session.post(station + "/login", data={"csrf_token": token, "username": "admin",
                                                    "password": PASSWORDS["admin"]}, timeout=5)
    assert answer.ok and "/login" not in answer.url
    return "; ".join(f"{name}={value}" for name, value in session.cookies.items())


def _open_and_vanish(base: str, headers: str) -> bytes:
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(f"GET /events HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
        return raw.recv(64)  # the status line: the stream began; then the client is gone


@pytest.mark.parametrize("app", ["kiosk", "station"])
def test_200_raw_clients_that_open_a_stream_and_vanish(served, app):
    base = served[app]
    headers = f"Cookie: {_staff_cookie(base)}\r\n" if app == "station" else ""
    answers = [_open_and_vanish(base, headers) for _ in range(200)]
    assert all(answer.startswith(b"HTTP/1.1 200") for answer in answers)  # each a stream, none refused
    status, seconds = _get(base + "/health")
    assert status == 200 and seconds < 2
    # the streams of departed clients end by themselves, keepalive by keepalive
    wait_until(lambda: _streams(base) == 0, 10, f"every abandoned {app} stream has ended")


def test_a_stream_over_the_bound_is_refused_with_a_retry_hint(config):
    import kiosk
    from tests.helpers import LiveServer

    config["kiosk"].update(event_streams=2, event_streams_per_client=5)
    server = LiveServer(kiosk.create_app(config))
    try:
        held = [socket.create_connection(("127.0.0.1", server.server.server_port), timeout=5) for _ in range(3)]
        answers = []
        for raw in held[:2]:
            raw.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            answers.append(raw.recv(4096))  # the stream's head (it stays open)
        held[2].sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        answers.append(b"".join(iter(lambda: held[2].recv(4096), b"")))  # the whole refusal: it closes
        assert [a.split(b"\r\n", 1)[0] for a in answers] == [b"HTTP/1.1 200 OK"] * 2 + [
            b"HTTP/1.1 503 SERVICE UNAVAILABLE"]
        refused = answers[2].decode()
        assert "Retry-After: 5" in refused and refused.endswith("retry: 5000\n\n")
        assert _get(server.url + "/")[0] == 200  # pages are served all the while
        for raw in held:
            raw.close()
    finally:
        server.stop()
