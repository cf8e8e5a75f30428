"""The staff station boots for real: its image (deploy/install.sh --role station) under QEMU, systemd as PID 1.

The installer's first configuration names a patron database no box can reach until staff set their own
(``postgresql://kiosk@central.example.org``): the station comes up anyway, says so on its pages, in /health and in
``kiosk doctor``, and never restarts for it. Then the database is set as staff would set it (/etc/kiosk/kiosk.toml,
here a fresh database of the host's PostgreSQL, forwarded to the guest), the service restarted, and the login page
answers.
"""
from __future__ import annotations

import re

import pytest

from tests.conftest import fresh_postgres_database
from tests.vm.machine import GUEST_HOST
from tests.vm.roles import booted, every_unit_active_and_none_failed, fetch, health

STATION = "http://127.0.0.1:8081"
POSTGRES = 5432


@pytest.fixture(scope="module")
def station_box(tmp_path_factory):
    with booted("station", tmp_path_factory.mktemp("vm-station"), {POSTGRES: POSTGRES}) as machine:
        yield machine


def test_every_unit_of_the_station_is_active_and_none_failed_before_its_database_is_set(station_box):
    every_unit_active_and_none_failed(station_box, "station")
    assert station_box.run("systemctl show -P NRestarts kiosk-provisioning.service").out.strip() == "0"


def test_until_its_database_is_set_the_station_says_so(station_box):
    assert health(station_box, f"{STATION}/health")["database"] == "unreachable"
    status, page = fetch(station_box, f"{STATION}/login")
    assert status == 503 and "central.example.org" in page, page[:2000]
    doctor = station_box.run("kiosk doctor").out
    assert re.search(r"^FAIL station database: .*central\.example\.org", doctor, re.M), doctor


def test_with_its_database_set_the_station_serves_its_login_page(station_box):
    with fresh_postgres_database("kiosk_vm_station") as url:
        name = url.rsplit("/", 1)[1]
        station_box.run(f"sed -i 's|^database_url = .*|database_url = \"postgresql://root@{GUEST_HOST}:{POSTGRES}/"
                        f"{name}\"|' /etc/kiosk/kiosk.toml && systemctl restart kiosk-provisioning", check=True)
        assert "database" not in health(station_box, f"{STATION}/health")
        status, page = fetch(station_box, f"{STATION}/login")
        assert status == 200 and 'name="password"' in page, page[:2000]
        station_box.run("systemctl stop kiosk-provisioning", check=True)   # its sessions end before the drop
