"""The staff station and the central store boot for real: each role's image (deploy/install.sh --role ROLE) under
QEMU, systemd as PID 1, as the box comes up the first time after the installer ran on it.

One machine per role for the module. What each shows: every unit of the role active and none failed, and the
role's own page answering on the guest's loopback (the central store over HTTPS with the certificate the
installer made, the station over HTTP).
"""
from __future__ import annotations

import json

import pytest

from library_kiosk.appliance.install import ROLES
from tests.vm.image import fresh_disk
from tests.vm.machine import Machine

PAGES = {"station": "http://127.0.0.1:8081/health", "central": "https://127.0.0.1:8082/health"}
FETCH = ("python3 -c \"import ssl, sys, urllib.request; "
         "context = ssl.create_default_context(cafile='/etc/kiosk/tls/ca.pem') if sys.argv[1].startswith('https') "
         "else None; response = urllib.request.urlopen(sys.argv[1], timeout=10, context=context); "
         "print(response.status); print(response.read().decode())\" ")


@pytest.fixture(scope="module", params=sorted(PAGES))
def booted(request, tmp_path_factory):
    role = request.param
    folder = tmp_path_factory.mktemp(f"vm-{role}")
    machine = Machine(fresh_disk(role, folder), folder)
    try:
        machine.start()
        machine.wait_running()
        yield role, machine
    finally:
        machine.stop()


def test_every_unit_of_the_role_is_active_and_none_failed(booted):
    role, machine = booted
    units = ROLES[role].units
    states = {unit: machine.run(f"systemctl is-active {unit}").out.strip() for unit in units}
    assert states == dict.fromkeys(units, "active"), machine.failed_report()
    assert machine.run("systemctl --failed --no-legend --plain").out.strip() == ""


def test_the_roles_page_answers_on_the_guests_loopback(booted):
    role, machine = booted
    answer = machine.run(FETCH + PAGES[role])
    assert answer.status == 0, answer.both + machine.failed_report()
    status, body = answer.out.split("\n", 1)
    assert (status, json.loads(body)["status"]) == ("200", "ok"), answer.out
