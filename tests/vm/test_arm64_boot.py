"""The kiosk's arm64 image (what a Raspberry Pi runs; tests/vm/arm64.py) boots under emulation: qemu-system-aarch64
on the ``virt`` board, TCG, systemd as PID 1, as the box comes up the first time after the installer ran on it.

Marked ``arm64`` (and ``vm``, as every test here): left out of ``make test`` and ``make test-vm``; ``make test-arm64``
builds the image and runs this. One machine for the module; each boot's time (QEMU's start to
``is-system-running``) is written to test-artifacts/vm/kiosk-arm64-boot-seconds.json.
"""
from __future__ import annotations

import json

import pytest

from library_kiosk.appliance.install import ROLES
from tests.vm import arm64
from tests.vm.conftest import ARTIFACTS
from tests.vm.machine import Machine

pytestmark = pytest.mark.arm64

# Emulated, on a shared 2-core host: the kernel, systemd, then Chromium's first start, all instructions translated.
BOOT_SECONDS = 1200
FETCH = ("python3 -c \"import sys, urllib.request; response = urllib.request.urlopen(sys.argv[1], timeout=30); "
         "print(response.status); print(response.read().decode())\" http://127.0.0.1:8080/health")


@pytest.fixture(scope="module")
def booted(arm64_kiosk_image, tmp_path_factory):
    folder = tmp_path_factory.mktemp("vm-kiosk-arm64")
    machine = Machine(arm64.fresh_disk(folder), folder, arch="arm64")
    try:
        machine.start(agent_timeout=BOOT_SECONDS)
        yield machine
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "kiosk-arm64-boot-seconds.json").write_text(json.dumps(machine.boot_seconds))
        machine.stop()


def test_the_system_reaches_running(booted):
    assert booted.wait_running(timeout=BOOT_SECONDS) == "running"


def test_the_four_kiosk_units_are_active(booted):
    booted.wait_running(timeout=BOOT_SECONDS)
    units = ROLES["kiosk"].units
    states = {unit: booted.run(f"systemctl is-active {unit}").out.strip() for unit in units}
    assert states == dict.fromkeys(units, "active"), booted.failed_report()


def test_the_kiosk_page_answers_on_the_guests_loopback(booted):
    booted.wait_running(timeout=BOOT_SECONDS)
    answer = booted.run(FETCH, timeout=120)
    assert answer.status == 0, answer.both + booted.failed_report()
    status, body = answer.out.split("\n", 1)
    assert (status, json.loads(body)["status"]) == ("200", "ok"), answer.out
