"""Power cuts during ``kiosk upgrade``: the box boots into a working version every time, the old one or the new one,
never neither.

The kiosk image (release 0.1.0 of this tree) gets a wheelhouse with the same tree as release 0.1.1 on a second
disk; ``kiosk upgrade --wheelhouse`` runs in the guest as a transient unit, and the power is cut (QEMU killed) when
the guest reaches a phase of it:

- ``build``: the new release's virtual environment exists, pip is filling it (from the wheelhouse: the download);
- ``unpack``: the project's own package is being written into it;
- ``switch``: ``/opt/kiosk/current`` has just been pointed at the new release;
- ``restart``: the services of the new release are starting.

Each cut is one test (phase x round, the phases interleaved), on one machine for the module: after the cut the box
boots again and must come up with every unit active, ``current`` pointing at a complete release, and the kiosk
answering; then it is put back on 0.1.0 for the next cut. Round N cuts N x ``CUT_STEP`` seconds after the phase
is reached (timed in the guest), so the rounds cut at different moments of it. Rounds:
``KIOSK_VM_CUTS_PER_PHASE`` (default 5: 20 cuts).
"""
from __future__ import annotations

import os

import pytest

from tests.vm.image import fresh_disk, installer_tree, payload_disk
from tests.vm.machine import Machine

NEW = "0.1.1"
CUTS_PER_PHASE = int(os.environ.get("KIOSK_VM_CUTS_PER_PHASE", "5"))
CUT_STEP = 0.4
RELEASES = "/opt/kiosk/releases"
PHASES = {
    "build": f"[ -x {RELEASES}/{NEW}/bin/python ] && pgrep -f 'pip install' >/dev/null",
    "unpack": f"ls -d {RELEASES}/{NEW}/lib/python3*/site-packages/library_kiosk >/dev/null 2>&1",
    "switch": f"[ \"$(readlink /opt/kiosk/current)\" = releases/{NEW} ]",
    "restart": f"[ \"$(readlink /opt/kiosk/current)\" = releases/{NEW} ] && "
               "systemctl is-active kiosk-web.service | grep -qx activating",
}
UNITS = ("kiosk-reader.service", "kiosk-web.service", "kiosk-sync.service", "kiosk-browser.service")
CUTS = [(phase, round_) for round_ in range(CUTS_PER_PHASE) for phase in PHASES]


@pytest.fixture(scope="module")
def new_release(tmp_path_factory, kiosk_image):
    folder = tmp_path_factory.mktemp("upgrade")
    installer_tree(folder / "carried", "kiosk", version=NEW)
    return payload_disk(folder / "carried", folder / "payload.img")


@pytest.fixture(scope="module")
def box(new_release, kiosk_image, tmp_path_factory):
    """One kiosk for every cut, booted once, with the new release's disk attached."""
    folder = tmp_path_factory.mktemp("vm-power-cuts")
    machine = Machine(fresh_disk("kiosk", folder), folder, extra_disks=[new_release])
    try:
        machine.start()
        boots_into_a_working_version(machine)
        yield machine
    finally:
        machine.stop()


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


def back_on_the_old_release(machine: Machine, version: str) -> None:
    """As staff would after an upgrade: the next cut needs 0.1.0 running and no 0.1.1 on the disk."""
    if version == NEW:
        machine.run(f"ln -sfn releases/0.1.0 /opt/kiosk/.current.tmp && mv -T /opt/kiosk/.current.tmp "
                    f"/opt/kiosk/current && rm -rf {RELEASES}/{NEW} && sync && "
                    "systemctl restart kiosk-web kiosk-reader kiosk-sync kiosk-browser", check=True)
        boots_into_a_working_version(machine)
    else:
        machine.run(f"rm -rf {RELEASES}/{NEW} && sync", check=True)


@pytest.mark.parametrize(("phase", "round_"), CUTS, ids=[f"{phase}-{round_}" for phase, round_ in CUTS])
def test_a_power_cut_during_an_upgrade_boots_into_a_working_version(phase, round_, box):
    if not box.alive():                 # a cut before this one left it off (its test failed): boot it
        box.start()
    machine = box
    machine.run("mkdir -p /mnt/new && (mountpoint -q /mnt/new || mount -o ro LABEL=KIOSKPAYLOAD /mnt/new)",
                check=True)
    machine.run("systemctl stop kiosk-upgrade.service 2>/dev/null; systemctl reset-failed kiosk-upgrade.service "
                "2>/dev/null; systemd-run --unit=kiosk-upgrade --collect kiosk upgrade --wheelhouse /mnt/new/wh",
                check=True)
    machine.write("/run/until-phase", f"until {PHASES[phase]}; do sleep 0.1; done\nsleep {round_ * CUT_STEP}\n")
    reached = machine.run("timeout 600 sh /run/until-phase", timeout=660)
    assert reached.status == 0, f"the upgrade never reached {phase}:\n" + machine.run(
        "journalctl -b -u kiosk-upgrade --no-pager | tail -40").out
    machine.power_cut()
    machine.start()
    version = boots_into_a_working_version(machine)
    print(f"power cut {phase}-{round_}: booted into {version}")
    back_on_the_old_release(machine, version)
