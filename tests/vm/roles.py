"""What the station's and the central store's boot tests share: the role's unit states and a page fetched on the
guest's own loopback (over HTTPS with the fleet CA the installer made, where the URL says https)."""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

from library_kiosk.appliance.install import ROLES
from tests.vm.image import fresh_disk
from tests.vm.machine import Machine

FETCH = ("python3 -c \"import ssl, sys, urllib.request, urllib.error; "
         "context = ssl.create_default_context(cafile='/etc/kiosk/tls/ca.pem') if sys.argv[1].startswith('https') "
         "else None\n"
         "try: response = urllib.request.urlopen(sys.argv[1], timeout=10, context=context)\n"
         "except urllib.error.HTTPError as error: response = error\n"
         "print(response.status); print(response.read().decode())\" ")


@contextlib.contextmanager
def booted(role: str, folder: Path, forwards: dict[int, int] | None = None) -> Iterator[Machine]:
    """A machine of ``role`` on a throw-away overlay of its image, booted until ``is-system-running``."""
    machine = Machine(fresh_disk(role, folder), folder, forwards)
    try:
        machine.start()
        machine.wait_running()
        yield machine
    finally:
        machine.stop()


def unit_states(machine: Machine, role: str) -> dict[str, str]:
    return {unit: machine.run(f"systemctl is-active {unit}").out.strip() for unit in ROLES[role].units}


def every_unit_active_and_none_failed(machine: Machine, role: str) -> None:
    assert unit_states(machine, role) == dict.fromkeys(ROLES[role].units, "active"), machine.failed_report()
    assert machine.run("systemctl --failed --no-legend --plain").out.strip() == ""


def fetch(machine: Machine, url: str) -> tuple[int, str]:
    """GET ``url`` in the guest: its status and body (an HTTP error's too)."""
    answer = machine.run(FETCH + url)
    assert answer.status == 0, answer.both + machine.failed_report()
    status, body = answer.out.split("\n", 1)
    return int(status), body


def health(machine: Machine, url: str) -> dict:
    status, body = fetch(machine, url)
    assert status == 200, body[:2000]
    return json.loads(body)
