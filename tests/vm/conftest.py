"""Fixtures of the VM boot tests: the role's image (built or reused: tests/vm/image.py), a central store on the
host for the guest to reach, and a booted machine (tests/vm/machine.py).

Every test here is marked ``vm`` (left out of the default run by pyproject's addopts; ``make test-vm`` runs them)
and ``slow``. QEMU, KVM's absence aside, or the image missing fails the test, never skips it.
"""
from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from library_kiosk.web import tls
from tests import reaper
from tests.helpers import free_port, wait_for_port
from tests.vm import arm64
from tests.vm.image import build_role, fresh_disk
from tests.vm.machine import GUEST_HOST, Machine
from tests.vm.qemu import qemu_binary

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "vm"
CENTRAL_PORT_IN_GUEST = 8082


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.vm)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def kiosk_image() -> Path:
    qemu_binary()
    return build_role("kiosk")


@pytest.fixture(scope="session")
def arm64_kiosk_image() -> Path:
    """The kiosk's arm64 image (tests/vm/arm64.py), built or reused; for the tests marked ``arm64``."""
    qemu_binary("arm64")
    return arm64.build_kiosk()


class HostCentral:
    """The central store on the host (``kiosk central serve`` over SQLite, HTTPS with a fleet CA made for the
    address the guest uses), reached from the guest at https://10.0.2.100:8082; ``code(name)`` makes a one-time
    enrolment code as staff would (``kiosk devices add``). A kiosk refuses a central store over plain HTTP."""

    def __init__(self, folder: Path):
        self.folder = folder
        fleet = tls.init(folder / "fleet", f"{GUEST_HOST},127.0.0.1")
        self.ca_pem = Path(fleet["ca"]).read_text()
        self.port = free_port()
        self.guest_url = f"https://{GUEST_HOST}:{CENTRAL_PORT_IN_GUEST}"
        self.env = {**os.environ, "KIOSK_CONFIG": "", "KIOSK_DATA_DIR": str(folder),
                    "KIOSK_CENTRAL_DATABASE_URL": f"sqlite:///{folder / 'central.db'}",
                    "KIOSK_CENTRAL_PORT": str(self.port), "KIOSK_CENTRAL_TLS_CERT": fleet["cert"],
                    "KIOSK_CENTRAL_TLS_KEY": fleet["key"]}
        self.process: subprocess.Popen | None = None
        self._kiosk("db", "init")

    def _kiosk(self, *args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "library_kiosk", *args], env=self.env, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def start(self) -> HostCentral:
        self.process = subprocess.Popen([sys.executable, "-m", "library_kiosk", "central", "serve", "--workers", "1"],
                                        env=self.env, stdout=subprocess.DEVNULL, start_new_session=True)
        wait_for_port(self.port, self.process)
        return self

    def stop(self) -> None:
        if self.process:
            reaper.stop(self.process)
            self.process = None

    def load_demo(self, patrons: int) -> None:
        """Demo patrons, as ``kiosk demo load`` makes them (patron N's card barcode: 2 and N in 13 digits)."""
        self._kiosk("demo", "load", "--patrons", str(patrons))

    def card_serial(self, primary_id: str) -> str:
        """The card serial number (CARD_SERIAL_NUMBER identifier) of a patron of this store."""
        with sqlite3.connect(self.folder / "central.db") as db:
            found = db.execute("SELECT i.value FROM identifier i JOIN user u ON u.id = i.user_id WHERE "
                               "u.primary_id = ? AND i.id_type = 'CARD_SERIAL_NUMBER'", (primary_id,)).fetchone()
        assert found, f"no card serial for {primary_id}"
        return found[0]

    def patron_count(self) -> int:
        with sqlite3.connect(self.folder / "central.db") as db:
            return db.execute("SELECT COUNT(*) FROM user").fetchone()[0]

    def code(self, name: str) -> str:
        out = self._kiosk("devices", "add", name)
        found = re.search(r"kiosk enrol (\S+)\)", out)
        assert found, f"no enrolment code in: {out}"
        return found.group(1)


@pytest.fixture(scope="module")
def central(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vm-central")
    store = HostCentral(folder).start()
    try:
        yield store
    finally:
        store.stop()


@pytest.fixture
def machine_factory(tmp_path_factory):
    """Machines on throw-away overlays of a role's image; each stopped at the end."""
    machines: list[Machine] = []

    def make(role: str, forwards: dict[int, int] | None = None) -> Machine:
        folder = tmp_path_factory.mktemp(f"vm-{role}")
        machine = Machine(fresh_disk(role, folder), folder, forwards)
        machines.append(machine)
        return machine

    yield make
    for machine in machines:
        machine.stop()
