"""Power cuts during ``kiosk upgrade``: the box boots into a working version every time, the old one or the new one,
never neither.

The kiosk image (release 0.1.0 of this tree) boots with a wheelhouse of the same tree as release 0.1.1 on a second
disk, and ``kiosk upgrade --wheelhouse`` runs in the guest as a transient unit. The harness waits, in the guest, for
each phase of it:

- ``build``: the new release's virtual environment exists, pip is filling it (from the wheelhouse: the download);
- ``unpack``: the project's own package is being written into it;
- ``switch``: ``/opt/kiosk/current`` has just been pointed at the new release;
- ``restart``: the services of the new release are starting;

and cuts ``CUTS_PER_PHASE`` times in each, ``CUT_STEP`` seconds apart. One upgrade gives every cut: a cut freezes
the disk (``Machine.freeze_disk``: QEMU's external snapshot, the disk exactly as a power cut at that instant leaves
it, what the guest had not sent to it lost) and lets the upgrade go on; the very last cut pulls the plug for real
(QEMU killed). Each cut's disk then boots on an overlay of its own, two machines at a time (one virtual CPU each:
the boots are what costs, a minute each under emulation), and must come up with every kiosk unit active,
``current`` pointing at a complete release, and the kiosk answering. ``KIOSK_VM_CUTS_PER_PHASE`` (default 5: 20
cuts). The outcome of every cut (phase, version booted, seconds) is written to test-artifacts/vm/power-cuts.json.
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.vm.conftest import ARTIFACTS
from tests.vm.image import fresh_disk, installer_tree, overlay, payload_disk
from tests.vm.machine import Machine

NEW = "0.1.1"
CUTS_PER_PHASE = int(os.environ.get("KIOSK_VM_CUTS_PER_PHASE", "5"))
CUT_STEP = 0.5
RELEASES = "/opt/kiosk/releases"
PHASES = {
    "build": f"[ -x {RELEASES}/{NEW}/bin/python ] && pgrep -f 'pip install' >/dev/null",
    "unpack": f"ls -d {RELEASES}/{NEW}/lib/python3*/site-packages/library_kiosk >/dev/null 2>&1",
    "switch": f"[ \"$(readlink /opt/kiosk/current)\" = releases/{NEW} ]",
    "restart": f"[ \"$(readlink /opt/kiosk/current)\" = releases/{NEW} ] && "
               "systemctl is-active kiosk-web.service | grep -qx activating",
}
UNITS = ("kiosk-reader.service", "kiosk-web.service", "kiosk-sync.service", "kiosk-browser.service")
CUTS = [f"{phase}-{round_}" for phase in PHASES for round_ in range(CUTS_PER_PHASE)]
BOOTS_AT_ONCE = 2


@dataclass
class Cut:
    name: str
    disk: Path                     # the disk as the cut left it
    real: bool = False             # QEMU killed (the last cut), not a frozen disk
    version: str = ""              # the release it booted into
    failure: str = ""
    boot_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def boots_into_a_working_version(machine: Machine) -> str:
    machine.wait_running()
    states = {unit: machine.run(f"systemctl is-active {unit}").out.strip() for unit in UNITS}
    assert states == dict.fromkeys(UNITS, "active"), machine.failed_report()
    version = machine.run("readlink /opt/kiosk/current", check=True).out.strip().removeprefix("releases/")
    assert version in ("0.1.0", NEW), version
    machine.run(f"{RELEASES}/{version}/bin/python -c 'import kiosk, library_kiosk.appliance.upgrade'", check=True)
    machine.run("python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', "
                "timeout=10)\"", check=True)
    return version


@pytest.fixture(scope="module")
def new_release(tmp_path_factory, kiosk_image):
    folder = tmp_path_factory.mktemp("upgrade")
    installer_tree(folder / "carried", "kiosk", version=NEW)
    return payload_disk(folder / "carried", folder / "payload.img")


def cut_through_one_upgrade(machine: Machine, folder: Path) -> list[Cut]:
    """Run the upgrade and cut at every point of ``CUTS``; the machine is off at the end (the last cut is real)."""
    machine.run("mkdir -p /mnt/new && mount -o ro LABEL=KIOSKPAYLOAD /mnt/new", check=True)
    machine.run("systemd-run --unit=kiosk-upgrade --collect kiosk upgrade --wheelhouse /mnt/new/wh", check=True)
    cuts: list[Cut] = []
    for phase, reached in PHASES.items():
        machine.write(f"/run/until-{phase}", f"until {reached}; do sleep 0.1; done\n")
        waited = machine.run(f"timeout 900 sh /run/until-{phase}", timeout=960)
        assert waited.status == 0, f"the upgrade never reached {phase}:\n" + machine.run(
            "journalctl -b -u kiosk-upgrade --no-pager | tail -40").out
        for round_ in range(CUTS_PER_PHASE):
            name = f"{phase}-{round_}"
            if name == CUTS[-1]:
                machine.power_cut()
                cuts.append(Cut(name, machine.disk, real=True))
                return cuts
            cuts.append(Cut(name, machine.freeze_disk(folder / f"after-{name}.qcow2")))
            time.sleep(CUT_STEP)   # the next cut, later in the phase (the moment is chosen, not waited for)
    raise AssertionError("unreachable: the last cut returns")


def boot_after(cut: Cut, folder: Path) -> Cut:
    """Boot the disk ``cut`` left, on an overlay of its own, and note what came up."""
    here = folder / f"boot-{cut.name}"
    here.mkdir()
    machine = Machine(overlay(cut.disk, here / "disk.qcow2", "qcow2"), here, cpus=1)
    try:
        machine.start(agent_timeout=600)
        cut.version = boots_into_a_working_version(machine)
        cut.boot_seconds = machine.boot_seconds[-1]
    except Exception as exc:     # kept as this cut's failure; its test reports it
        cut.failure = f"{type(exc).__name__}: {exc}\n{machine.console_tail(3000)}"
    finally:
        machine.stop()
    return cut


@pytest.fixture(scope="module")
def cuts(new_release, kiosk_image, tmp_path_factory) -> dict[str, Cut]:
    folder = tmp_path_factory.mktemp("vm-power-cuts")
    machine = Machine(fresh_disk("kiosk", folder), folder, extra_disks=[new_release])
    try:
        machine.start()
        assert boots_into_a_working_version(machine) == "0.1.0"
        started = time.monotonic()
        made = cut_through_one_upgrade(machine, folder)
        upgrade_seconds = round(time.monotonic() - started, 1)
    finally:
        machine.stop()
    started = time.monotonic()
    with ThreadPoolExecutor(BOOTS_AT_ONCE) as pool:
        booted = list(pool.map(lambda cut: boot_after(cut, folder), made))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "power-cuts.json").write_text(json.dumps({
        "upgrade_seconds_with_cuts": upgrade_seconds, "boots_seconds": round(time.monotonic() - started, 1),
        "cuts": [{"cut": c.name, "real": c.real, "version": c.version, "boot_seconds": c.boot_seconds,
                  "failed": bool(c.failure)} for c in booted]}, indent=1) + "\n")
    return {cut.name: cut for cut in booted}


def test_every_phase_was_cut_and_the_last_cut_pulled_the_plug(cuts):
    assert list(cuts) == CUTS
    assert [name for name, cut in cuts.items() if cut.real] == [CUTS[-1]]


@pytest.mark.parametrize("name", CUTS)
def test_a_power_cut_during_an_upgrade_boots_into_a_working_version(name, cuts):
    cut = cuts[name]
    assert not cut.failure, cut.failure
    assert cut.version in ("0.1.0", NEW)
    print(f"power cut {name}{' (QEMU killed)' if cut.real else ''}: booted into {cut.version} "
          f"in {cut.boot_seconds} s")


def test_a_cut_before_the_switch_boots_the_old_release(cuts):
    before = {name: cut.version for name, cut in cuts.items() if name.startswith(("build", "unpack"))}
    assert set(before.values()) == {"0.1.0"}, before


def test_a_cut_once_the_new_release_restarts_boots_the_new_release(cuts):
    """The switch is one rename, made durable (a directory fsync) before the services restart: from then on the
    box comes up on the new release, never back on the old. (A cut at the switch itself may boot either.)"""
    after = {name: cut.version for name, cut in cuts.items() if name.startswith("restart")}
    assert set(after.values()) == {NEW}, after
