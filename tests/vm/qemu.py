"""The QEMU command line shared by the image builder (tests/vm/image.py) and the boot harness (tests/vm/machine.py).

KVM when /dev/kvm can be opened and boots the kernel, plain emulation (TCG) otherwise: the same machine,
slower. The image's own kernel and initrd are booted directly (``-kernel``/``-initrd``): no bootloader in the
image; the root file system is the whole virtual disk (/dev/vda). The serial console is ttyS0.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.deploy.helpers import CACHE

MEMORY_MB = 2048
CPUS = 2
KERNEL_ARGS = "root=/dev/vda rw console=ttyS0,115200 net.ifnames=0 systemd.show_status=1"
# arm64 (tests/vm/arm64.py): QEMU's ``virt`` board, emulated (TCG; no KVM for another architecture). Its serial
# port is a PL011, ttyAMA0. ``-cpu max`` with the QEMU-defined pointer authentication (``pauth-impdef``): the
# architected one (QARMA) is slow to emulate, and the guest cannot tell the difference.
KERNEL_ARGS_ARM64 = KERNEL_ARGS.replace("console=ttyS0", "console=ttyAMA0")
ARM64_MACHINE = ["-M", "virt", "-cpu", "max,pauth-impdef=on", "-accel", "tcg"]


def qemu_binary(arch: str = "amd64") -> str:
    """qemu-system-x86_64 (qemu-system-aarch64 for ``arch`` arm64); the test fails, naming the Debian package,
    when it is missing."""
    if arch == "arm64":
        path = shutil.which("qemu-system-aarch64")
        if not path:
            pytest.fail("qemu-system-aarch64 is missing: apt-get install qemu-system-arm qemu-utils")
        return path
    path = shutil.which("qemu-system-x86_64")
    if not path:
        pytest.fail("qemu-system-x86_64 is missing: apt-get install qemu-system-x86 qemu-utils")
    return path


# The CPU models KVM is tried with, in order. ``host`` is the natural one; on some nested hosts (this CI machine
# kind) QEMU aborts with "failed to set MSR 0x10a to 0x69": the outer hypervisor refuses the guest's write of
# IA32_ARCH_CAPABILITIES (``-cpu max`` fails the same way), and the same CPU without that feature boots at full
# speed. Until this fallback existed the probe saw the abort, answered "no", and every boot ran under TCG (1-2
# minutes each instead of seconds).
KVM_CPUS = ("host", "host,-arch-capabilities")
# The CPU model emulated under TCG (``KIOSK_VM_TCG_CPU`` chooses another).
TCG_CPU = "max"


def _kernel_banner(command: list[str], seconds: float) -> bool:
    """Whether ``command`` (a QEMU booting a kernel on its serial console) prints the kernel banner in time."""
    probe = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + seconds
    seen = b""
    os.set_blocking(probe.stdout.fileno(), False)     # type: ignore[union-attr]
    while time.monotonic() < deadline and b"Linux version" not in seen and probe.poll() is None:
        seen += probe.stdout.read() or b""            # type: ignore[union-attr]
        time.sleep(0.2)
    probe.kill()
    probe.wait()
    probe.stdout.close()                              # type: ignore[union-attr]
    return b"Linux version" in seen


def kvm_cpu(kernel: Path, seconds: float = 20) -> str | None:
    """The first of ``KVM_CPUS`` with which KVM runs this kernel (it prints its banner within ``seconds``), or
    None: /dev/kvm cannot be opened, or no model boots. A nested KVM can open /dev/kvm and still crawl (on the
    2-core CI machine the kernel's decompression had not ended after 100 s, when plain emulation boots to a
    login in 70 s), or abort at once (``KVM_CPUS``). Asked once per host kernel and QEMU, the answer cached
    beside the images."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return None
    answer = CACHE / "vm" / f"kvm-cpu-{os.uname().release}-{os.path.getmtime(qemu_binary()):.0f}"
    if answer.exists():
        return answer.read_text() or None
    works = next((cpu for cpu in KVM_CPUS if _kernel_banner(
        [qemu_binary(), "-accel", "kvm", "-cpu", cpu, "-m", "256", "-nodefaults", "-no-user-config", "-no-reboot",
         "-display", "none", "-serial", "stdio", "-kernel", str(kernel),
         "-append", "console=ttyS0 panic=-1 root=/dev/null"], seconds)), None)
    answer.parent.mkdir(parents=True, exist_ok=True)
    answer.write_text(works or "")
    return works


def accelerator(kernel: Path) -> list[str]:
    """KVM where the host offers it and it works (``kvm_cpu``), else TCG: the same test, slower.
    ``KIOSK_VM_ACCEL=kvm|tcg`` chooses (kvm: with the CPU model the probe found, else ``host``)."""
    choice = os.environ.get("KIOSK_VM_ACCEL")
    cpu = kvm_cpu(kernel) if choice in (None, "", "kvm") else None
    if choice == "kvm" or (not choice and cpu):
        return ["-accel", "kvm", "-cpu", cpu or KVM_CPUS[0]]
    return ["-accel", "tcg", "-cpu", os.environ.get("KIOSK_VM_TCG_CPU") or TCG_CPU]


@dataclass
class Boot:
    """What one QEMU run boots and attaches."""
    disk: Path
    kernel: Path
    initrd: Path
    serial_log: Path
    kernel_args: str = KERNEL_ARGS
    extra_disks: list[Path] = field(default_factory=list)
    qmp_socket: Path | None = None          # QMP: screendump, quit
    agent_socket: Path | None = None        # qemu-guest-agent over virtio-serial
    netdev: str = "user,id=net0,restrict=on"  # restrict=on: no route out; guestfwd/hostfwd only
    cpus: int = CPUS
    disk_format: str = "qcow2"
    arch: str = "amd64"                      # or arm64 (tests/vm/arm64.py)

    def command(self) -> list[str]:
        """amd64: the KVM or TCG machine (``accelerator``) with a virtio VGA; arm64: the ``virt`` board under TCG
        (``ARM64_MACHINE``), its display a virtio-gpu PCI device (the board has no VGA), its serial console the
        PL011 (ttyAMA0: ``KERNEL_ARGS_ARM64``). The rest is the same machine."""
        arm64 = self.arch == "arm64"
        machine = ARM64_MACHINE if arm64 else accelerator(self.kernel)
        display = ["-device", "virtio-gpu-pci"] if arm64 else ["-vga", "virtio"]  # virtio-gpu: PRIME, for wlroots
        command = [qemu_binary(self.arch), *machine, "-m", str(MEMORY_MB), "-smp", str(self.cpus),
                   "-nodefaults", "-no-user-config", "-no-reboot",
                   "-kernel", str(self.kernel), "-initrd", str(self.initrd), "-append", self.kernel_args,
                   "-drive", f"file={self.disk},if=virtio,id=root,format={self.disk_format},cache=writeback,"
                             "discard=unmap",
                   *display, "-display", "none",
                   "-device", "virtio-tablet-pci",         # absolute pointer: taps from QMP (Machine.tap)
                   "-device", "virtio-keyboard-pci",       # a USB barcode scanner is a keyboard (Machine.type)
                   "-serial", f"file:{self.serial_log}",
                   "-netdev", self.netdev, "-device", "virtio-net-pci,netdev=net0",
                   "-device", "virtio-rng-pci"]
        for extra in self.extra_disks:
            command += ["-drive", f"file={extra},if=virtio,format=raw,readonly=on"]
        if self.qmp_socket:
            command += ["-qmp", f"unix:{self.qmp_socket},server=on,wait=off"]
        if self.agent_socket:
            command += ["-chardev", f"socket,path={self.agent_socket},server=on,wait=off,id=qga0",
                        "-device", "virtio-serial-pci" if arm64 else "virtio-serial",
                        "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0"]
        return command
