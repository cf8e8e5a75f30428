"""CI checks of the deployment artefacts in deploy/: units, udev rules, blacklist."""
from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from library_kiosk.appliance.install import ROLES
from tests.deploy.helpers import DEPLOY, UNITS, need

# Documented in docs/operations.md ("Hardening"): `systemd-analyze security` exposure, 0 (best) .. 10.
EXPOSURE_LIMITS = {"kiosk-browser.service": 5.0}   # Chromium needs user namespaces for its own sandbox
DEFAULT_EXPOSURE_LIMIT = 2.0


def unit(name: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in (DEPLOY / "systemd" / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            values.setdefault(key, []).append(value)
    return values


def test_every_role_unit_exists():
    names = {u.name for u in UNITS}
    for role in ROLES.values():
        assert set(role.units) <= names


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_systemd_analyze_verify_is_silent(systemd_root, path):
    result = subprocess.run(["systemd-analyze", f"--root={systemd_root}", "verify", "--man=no",
                             f"/etc/systemd/system/{path.name}"], capture_output=True, text=True,
                            cwd=systemd_root)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_exposure_score_within_documented_limit(systemd_root, path):
    result = subprocess.run(["systemd-analyze", f"--root={systemd_root}", "security", "--offline=true",
                             "--no-pager", f"/etc/systemd/system/{path.name}"],
                            capture_output=True, text=True, cwd=systemd_root)
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout + result.stderr)
    assert match, result.stdout + result.stderr
    score = float(match.group(1))
    assert score <= EXPOSURE_LIMITS.get(path.name, DEFAULT_EXPOSURE_LIMIT), f"{path.name}: {score}"


@pytest.mark.parametrize("name", ["kiosk-web.service", "kiosk-provisioning.service"])
def test_web_units_have_a_watchdog(name):
    # gunicorn's arbiter sends READY=1 (gunicorn/arbiter.py); our watchdog thread in the arbiter (kiosk/serving.py)
    # sends WATCHDOG=1 only while the app answers its health probe
    values = unit(name)
    assert values["Type"] == ["notify"] and values["NotifyAccess"] == ["main"] and values["WatchdogSec"] == ["30"]


def test_the_central_unit_has_no_watchdog():
    values = unit("kiosk-central.service")
    assert values["Type"] == ["notify"] and values["NotifyAccess"] == ["main"]
    assert "WatchdogSec" not in values


def test_reader_service_has_watchdog_and_the_only_device_access():
    reader = unit("kiosk-reader.service")
    assert reader["Type"] == ["notify"] and reader["WatchdogSec"] == ["30"]
    assert "char-usb_device rw" in reader["DeviceAllow"]
    for path in UNITS:
        values = unit(path.name)
        assert values["Restart"] == ["always"]
        assert "StartLimitBurst" in values and "StartLimitIntervalSec" in values
        assert values["ProtectSystem"] == ["strict"]
        if path.name not in ("kiosk-reader.service", "kiosk-browser.service"):
            assert values["PrivateDevices"] == ["yes"] and "DeviceAllow" not in values
            assert values["StateDirectory"] == ["kiosk"]


def test_reader_service_sends_watchdog_periodically(tmp_path):
    """`kiosk reader service` says READY=1, then WATCHDOG=1 every half WatchdogSec, STOPPING=1 on SIGTERM."""
    import os
    import socket
    import sys

    from tests.helpers import free_port

    path = tmp_path / "notify"
    config = tmp_path / "kiosk.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[readers]\nservice_url = "http://127.0.0.1:{free_port()}"\n')
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(10)
        process = subprocess.Popen([sys.executable, "-m", "library_kiosk", "reader", "service"],
                                   stdout=subprocess.DEVNULL,
                                   env=dict(os.environ, KIOSK_CONFIG=str(config), NOTIFY_SOCKET=str(path),
                                            WATCHDOG_USEC="400000"))
        try:
            messages = [sock.recv(100).decode() for _ in range(4)]
        finally:
            process.terminate()
            process.wait(timeout=10)
        sock.setblocking(False)  # it has exited: all it said is in the socket, ending with what it said last
        after = []
        with contextlib.suppress(BlockingIOError):
            while True:
                after.append(sock.recv(100).decode())
    assert messages[0] == "READY=1"
    assert messages[1:4] == ["WATCHDOG=1"] * 3
    assert after[-1:] == ["STOPPING=1"] and set(after[:-1]) <= {"WATCHDOG=1"}  # pings in flight, then STOPPING=1


def test_udev_rules_parse(tmp_path):
    need("udevadm", "udev")
    rules = sorted((DEPLOY / "udev").glob("*.rules"))
    assert rules
    run = Path("/run/udev/rules.d")
    run.mkdir(parents=True, exist_ok=True)
    copies = [run / f"zz-kiosk-ci-{r.name}" for r in rules]
    try:
        for rule, copy in zip(rules, copies):
            shutil.copy(rule, copy)
        log = subprocess.run(["udevadm", "test", "--action=add", "/sys/class/net/lo"],
                             capture_output=True, text=True)
    finally:
        for copy in copies:
            copy.unlink(missing_ok=True)
    output = log.stdout + log.stderr
    assert any(copy.name in output for copy in copies), "udevadm did not read our rules"
    errors = [line for line in output.splitlines() if "zz-kiosk-ci-" in line and re.search(r":\d+ ", line)]
    assert errors == []


def test_udev_rules_cover_the_supported_readers():
    text = (DEPLOY / "udev" / "60-kiosk-nfc-readers.rules").read_text()
    for vendor, product in (("054c", "06c1"), ("072f", "2200"), ("04cc", "2533")):
        assert f'ATTRS{{idVendor}}=="{vendor}", ATTRS{{idProduct}}=="{product}"' in text
    blacklist = (DEPLOY / "modprobe" / "kiosk-nfc-blacklist.conf").read_text().split()
    for module in ("port100", "pn533_usb", "pn533", "nfc"):
        assert module in blacklist
