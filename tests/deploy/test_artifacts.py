"""CI checks of the deployment artefacts in deploy/: units, udev rules, blacklist."""
from __future__ import annotations

import contextlib
import ipaddress
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from hardware.config import DEFAULT_SERVICE_URL
from library_kiosk.appliance.install import (
    DISPLAY_USER,
    ROLES,
    SERVICE_USER,
    STATE_DIR,
    UDEV_RULES,
    Installer,
    initial_config,
    kiosk_origin,
)
from tests.deploy.helpers import DEPLOY, UNITS, need, unit

# Documented in docs/operations.md ("Hardening"): `systemd-analyze security` exposure, 0 (best) .. 10.
EXPOSURE_LIMITS = {"kiosk-browser.service": 4.0}   # Chromium needs user namespaces for its own sandbox
DEFAULT_EXPOSURE_LIMIT = 1.5


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
    web = unit("kiosk-web.service")  # the receipt printer only: /dev/usb/lp* (char-usb) or libusb (char-usb_device)
    assert web["DevicePolicy"] == ["closed"] and sorted(web["DeviceAllow"]) == ["char-usb rw", "char-usb_device rw"]
    for path in UNITS:
        values = unit(path.name)
        assert values["Restart"] == ["always"]
        assert "StartLimitBurst" in values and "StartLimitIntervalSec" in values
        assert values["ProtectSystem"] == ["strict"]
        if path.name not in ("kiosk-reader.service", "kiosk-browser.service", "kiosk-web.service"):
            assert values["PrivateDevices"] == ["yes"] and "DeviceAllow" not in values
        if path.name not in ("kiosk-reader.service", "kiosk-browser.service"):
            assert values["StateDirectory"] == ["kiosk"]


def test_the_keys_from_the_central_store_live_on_a_tmpfs_both_kiosk_services_keep():
    for name in ("kiosk-web.service", "kiosk-sync.service"):
        values = unit(name)
        assert values["RuntimeDirectory"] == ["kiosk"] and values["RuntimeDirectoryPreserve"] == ["yes"]
        assert values["RuntimeDirectoryMode"] == ["0700"]


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


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_every_unit_gets_no_new_privileges_and_a_read_only_system(path):
    values = unit(path.name)
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateMounts", "RestrictSUIDSGID"):
        assert values.get(key) == ["yes"], key
    assert values["ProtectSystem"] == ["strict"] and values["CapabilityBoundingSet"] == [""]
    if path.name != "kiosk-browser.service":      # the services write only their state directory
        assert values["StateDirectory"] == ["kiosk"] and f"/var/lib/{values['StateDirectory'][0]}" == STATE_DIR
        assert values["User"] == [SERVICE_USER] and "ReadWritePaths" not in values
        assert values["RestrictNamespaces"] == ["yes"]


@pytest.mark.parametrize("name", ["kiosk-browser.service", "kiosk-reader.service"])
def test_loopback_only_units_refuse_every_other_address(name):
    """The browser talks only to the kiosk, the reader service only to its local clients (both on loopback)."""
    values = unit(name)
    assert values["IPAddressDeny"] == ["any"] and values["IPAddressAllow"] == ["localhost"]
    # what they serve or open is on loopback by default: the reader service's address, the kiosk's origin
    config = tomllib.loads(initial_config("kiosk"))
    for url in (DEFAULT_SERVICE_URL, config["readers"]["service_url"], kiosk_origin(config)):
        assert ipaddress.ip_address(urlsplit(url).hostname).is_loopback, url


def test_the_browsers_user_gets_no_reader():
    """Only the reader service's user may open a reader: group plugdev (which only kiosk-reader.service holds),
    mode 0660, and no rule that gives the seat's user (kiosk-display, the browser) an ACL."""
    text = (DEPLOY / "udev" / "60-kiosk-nfc-readers.rules").read_text()
    rules = [line for line in text.splitlines() if line and not line.startswith("#")]
    for rule in rules:
        assert "uaccess" not in rule and "seat" not in rule and "OWNER" not in rule and "RUN" not in rule, rule
        if "MODE=" in rule or "GROUP=" in rule:
            assert 'MODE="0660", GROUP="plugdev"' in rule, rule
    assert "plugdev" in unit("kiosk-reader.service")["SupplementaryGroups"][0].split()
    assert "plugdev" not in unit("kiosk-browser.service")["SupplementaryGroups"][0].split()
    # it sorts after systemd's 60-fido-id.rules (which marks CCID readers) and before 70-uaccess.rules
    assert Path(UDEV_RULES).name == "60-kiosk-nfc-readers.rules"
    assert "60-fido-id.rules" < Path(UDEV_RULES).name < "70-uaccess.rules"


def test_the_browsers_user_is_not_in_the_readers_group(monkeypatch):
    """What `kiosk install` gives the users: kiosk-display never joins plugdev."""
    import grp
    import pwd
    from types import SimpleNamespace

    commands: list[list[str]] = []
    monkeypatch.setattr(pwd, "getpwnam", lambda name: (_ for _ in ()).throw(KeyError(name)))
    monkeypatch.setattr(grp, "getgrnam", lambda name: SimpleNamespace(gr_mem=[]))
    installer = Installer("kiosk", root="/nonexistent", out=lambda *a, **k: None)
    monkeypatch.setattr(installer, "_run", lambda command, **kwargs: commands.append(command))
    installer.users()
    joined = {(c[-1], c[-2]) for c in commands if c[:3] == ["usermod", "--append", "--groups"]}
    assert (DISPLAY_USER, "plugdev") not in joined and {g for u, g in joined if u == DISPLAY_USER}
    assert any(c[0] == "useradd" and c[-1] == DISPLAY_USER for c in commands)


def test_ccid_readers_lose_the_seat_acl_in_udev(tmp_path):
    """systemd's 60-fido-id.rules marks a CCID reader ID_SMARTCARD_READER=1 and 70-uaccess.rules then tags it
    "uaccess" (an ACL for the seat's user). Our rule drops the mark in between: udevadm runs the three, with the
    device match moved onto lo (no USB device here), and no uaccess tag is left; without our rule there is.
    Each run has a fresh /run/udev of its own (a mount namespace): udevadm test records tags there."""
    need("udevadm", "udev")
    need("unshare", "util-linux")
    ours = [line for line in (DEPLOY / "udev" / "60-kiosk-nfc-readers.rules").read_text().splitlines()
            if 'ENV{ID_SMARTCARD_READER}=""' in line]
    assert len(ours) == 1
    usb = 'SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device"'
    assert ours[0].startswith(usb)

    def properties(with_ours: bool) -> str:
        rules = tmp_path / f"rules-{with_ours}"
        rules.mkdir()
        (rules / "zz-1-mark.rules").write_text('SUBSYSTEM=="net", KERNEL=="lo", ENV{ID_SMARTCARD_READER}="1"\n')
        (rules / "zz-3-tag.rules").write_text('ENV{ID_SMARTCARD_READER}=="?*", TAG+="uaccess"\n')
        if with_ours:
            (rules / "zz-2-ours.rules").write_text(ours[0].replace(usb, 'SUBSYSTEM=="net", KERNEL=="lo"') + "\n")
        script = ("mount -t tmpfs tmpfs /run/udev && mkdir /run/udev/rules.d && cp \"$0\"/*.rules /run/udev/rules.d/ "
                  "&& exec udevadm test --action=add /sys/class/net/lo")
        result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(rules)],
                                capture_output=True, text=True)
        assert "zz-2-ours.rules" in result.stderr + result.stdout or not with_ours, result.stderr
        return result.stdout

    Path("/run/udev").mkdir(parents=True, exist_ok=True)
    without = properties(False)
    assert "ID_SMARTCARD_READER=1" in without and "CURRENT_TAGS=:uaccess:" in without   # the control
    fixed = properties(True)
    assert "ID_SMARTCARD_READER" not in fixed and ":uaccess:" not in fixed, fixed


def test_the_browser_keeps_its_temporary_files_and_shared_memory_in_memory():
    """Debian's chromium wrapper adds --disable-dev-shm-usage on boxes with less than 8 GB of RAM, and Chromium
    then keeps its shared memory in $TMPDIR: on the root file system, a full /var crashed its renderer
    (tests/vm/test_kiosk_boot.py) instead of the kiosk showing its out-of-order screen."""
    environment = " ".join(unit("kiosk-browser.service")["Environment"])
    assert "TMPDIR=/dev/shm" in environment.split()
