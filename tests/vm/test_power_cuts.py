"""Power cuts during ``kiosk upgrade``: the box boots into a working version every time, the old one or the new one,
never neither.

The kiosk image (release 0.1.0 of this tree) gets a wheelhouse with the same tree as release 0.1.1 on a second
disk; ``kiosk upgrade --wheelhouse`` runs in the guest as a transient unit, and the power is cut (QEMU killed) as
soon as the guest reaches a phase of it:

- ``build``: the new release's virtual environment exists, pip is filling it (from the wheelhouse: the download);
- ``unpack``: the project's own package is being written into it;
- ``switch``: ``/opt/kiosk/current`` has just been pointed at the new release;
- ``restart``: the services of the new release are starting.

After each cut the box boots again and must come up with every unit active, ``current`` pointing at a complete
release, and the kiosk answering. Cuts per phase: ``KIOSK_VM_CUTS_PER_PHASE`` (default 1; 5 gives 20 cuts).
"""
from __future__ import annotations

import os

import pytest

from tests.vm.image import installer_tree, payload_disk
from tests.vm.machine import Machine

NEW = "0.1.1"
CUTS_PER_PHASE = int(os.environ.get("KIOSK_VM_CUTS_PER_PHASE", "1"))
RELEASES = "/opt/kiosk/releases"
PHASES = {
    "build": f"[ -x {RELEASES}/{NEW}/bin/python ] && pgrep -f 'pip install' >/dev/null",
    "unpack": f"ls -d {RELEASES}/{NEW}/lib/python3*/site-packages/library_kiosk >/dev/null 2>&1",
    "switch": f"[ \"$(readlink /opt/kiosk/current)\" = releases/{NEW} ]",
    "restart": f"[ \"$(readlink /opt/kiosk/current)\" = releases/{NEW} ] && "
               "systemctl is-active kiosk-web.service | grep -qx activating",
}
UNITS = ("kiosk-reader.service", "kiosk-web.service", "kiosk-sync.service", "kiosk-browser.service")
CUTS: list[str] = []


@pytest.fixture(scope="module")
def new_release(tmp_path_factory, kiosk_image):
    folder = tmp_path_factory.mktemp("upgrade")
    installer_tree(folder / "carried", "kiosk", version=NEW)
    return payload_disk(folder / "carried", folder / "payload.img")


def boots_into_a_working_version(machine: Machine) -> str:
    machine.wait_running()
    states = {unit: machine.run(f"systemctl is-active {unit}").out.strip() for unit in UNITS}
    assert states == dict.fromkeys(UNITS, "active"), machine.failed_report()
    version = machine.run("readlink /opt/kiosk/current", check=True).out.strip().removeprefix("releases/")
    assert version in ("0.1.0", NEW)
    machine.run(f"{RELEASES}/{version}/bin/python -c 'import kiosk, library_kiosk.appliance.upgrade'", check=True)
    machine.run("python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', "
                "timeout=10)\"", check=True)
    return version


@pytest.mark.parametrize("phase", list(PHASES))
def test_a_power_cut_during_an_upgrade_boots_into_a_working_version(phase, new_release, kiosk_image,
                                                                    machine_factory):
    machine = machine_factory("kiosk")
    machine.extra_disks = [new_release]
    machine.start()
    boots_into_a_working_version(machine)
    for cut in range(CUTS_PER_PHASE):
        machine.run("mkdir -p /mnt/new && (mountpoint -q /mnt/new || mount -o ro LABEL=KIOSKPAYLOAD /mnt/new)",
                    check=True)
        machine.run("systemctl reset-failed kiosk-upgrade.service 2>/dev/null; "
                    "systemd-run --unit=kiosk-upgrade --collect kiosk upgrade --wheelhouse /mnt/new/wh", check=True)
        reached = machine.run(f"timeout 600 sh -c 'until {PHASES[phase]}; do sleep 0.1; done'", timeout=660)
        assert reached.status == 0, f"the upgrade never reached {phase}:\n" + machine.run(
            "journalctl -b -u kiosk-upgrade --no-pager | tail -40").out
        machine.power_cut()
        CUTS.append(phase)
        print(f"power cut {len(CUTS)} ({phase}, {cut + 1} of {CUTS_PER_PHASE})")
        machine.start()
        version = boots_into_a_working_version(machine)
        print(f"  booted into {version}")
        if version == NEW:      # the next cut needs the old release running again: back to it, as staff would
            machine.run(f"ln -sfn releases/0.1.0 /opt/kiosk/.current.tmp && mv -T /opt/kiosk/.current.tmp "
                        f"/opt/kiosk/current && rm -rf {RELEASES}/{NEW} && "
                        "systemctl restart kiosk-web kiosk-reader kiosk-sync kiosk-browser", check=True)
            boots_into_a_working_version(machine)
        else:
            machine.run(f"rm -rf {RELEASES}/{NEW}", check=True)
