"""A bootable Debian bookworm disk image of a box, with the project installed by its own installer.

    make image ROLE=kiosk          # python -m tests.vm.image --role kiosk

Two layers, cached under /var/cache/kiosk-deploy-tests/vm (``KIOSK_DEPLOY_CACHE``):

- the **base** (made once, a few minutes): the cached debootstrap minbase tarball (tests/deploy/helpers.py), the
  kernel (linux-image-amd64), systemd as init, the Debian packages of every role (so the installer finds them,
  as on a prepared Pi), qemu-guest-agent for the test harness, DHCP by systemd-networkd, root logged in on the
  serial console ttyS0. Written into an ext4 file system that fills the virtual disk (``mkfs.ext4 -d``: no
  loop device, no mount), a sparse raw disk. The kernel and initrd are copied beside it for QEMU's direct boot.
- the **role layer**: a sparse copy of the base (``cp --sparse``: the 1.5 GB written, in seconds) with the
  project installed into it by ``deploy/install.sh --role ROLE --wheelhouse ...`` in a chroot (the disk
  loop-mounted in a private mount namespace), as a box prepared before its first boot, from this tree's deploy/
  folder and a wheelhouse (the cached, hash-checked dependencies and this tree's wheel). Redone only when the
  tree's sources change (under a minute); otherwise reused as it is.

Tests boot a throw-away overlay on the role layer (``fresh_disk``), so nothing they do reaches the cache.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from library_kiosk.appliance.install import ROLES
from tests.deploy.helpers import CACHE, REPO, bookworm_tarball, dependency_wheels, fill_wheelhouse, need

VM_CACHE = CACHE / "vm"
BASE_SIZE = "6G"
# What the kiosk role needs and its installer did not install (library_kiosk/appliance/install.py, ROLES), put in
# the base so the rest of the boot could be tested: empty since the role lists xwayland (cage stops without it).
MISSING_FROM_THE_KIOSK_ROLE: tuple[str, ...] = ()
GUEST_PACKAGES = ("linux-image-amd64", "systemd-sysv", "dbus", "libpam-systemd", "qemu-guest-agent", "e2fsprogs",
                  "iproute2", "procps", "libgl1-mesa-dri", "libegl-mesa0", *MISSING_FROM_THE_KIOSK_ROLE)
# What the image layer is made of: a change in any of these rebuilds the role layer.
SOURCES = ("deploy", "library_kiosk", "kiosk", "provisioning", "hardware", "pyproject.toml", "setup.py",
           "requirements")

# The base's own files (not the product's): fstab, the network, root on the serial console.
GUEST_FILES = {
    "etc/hostname": "kiosk-vm\n",
    "etc/hosts": "127.0.0.1\tlocalhost\n127.0.1.1\tkiosk-vm\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    "etc/fstab": "/dev/vda\t/\text4\trw,errors=remount-ro\t0\t1\n",
    "etc/systemd/network/20-wired.network": "[Match]\nName=eth* en*\n\n[Network]\nDHCP=ipv4\n",
    "etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf":
        "[Service]\nExecStart=\nExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 "
        "%I $TERM\n",
}

INSTALL_SCRIPT = """set -eu
export LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
cd /
/tmp/kiosk-image/src/deploy/install.sh --role {role} --wheelhouse /tmp/kiosk-image/wh
"""
# The virtual machine's display only, not the product's: QEMU's virtio-gpu has no 3D (no virgl without a host
# GPU), and Mesa's software fallback (kms_swrast) segfaults in cage's GLES2 renderer (llvmpipe), so cage renders
# with wlroots' pixman renderer. A Pi renders with its GPU.
VM_DISPLAY = """
mkdir -p /etc/systemd/system/kiosk-browser.service.d
printf '[Service]\\nEnvironment=WLR_RENDERER=pixman\\n' > /etc/systemd/system/kiosk-browser.service.d/vm-display.conf
"""


def base_paths() -> tuple[Path, Path, Path]:
    """The base disk, its kernel and initrd: named by what the base is made of (its packages and files)."""
    made_of = hashlib.sha256(repr((GUEST_PACKAGES, role_packages(), GUEST_FILES)).encode()).hexdigest()[:10]
    return (VM_CACHE / f"base-amd64-{made_of}.raw", VM_CACHE / f"vmlinuz-amd64-{made_of}",
            VM_CACHE / f"initrd-amd64-{made_of}")


def _chroot(root: Path, script: str) -> None:
    """Run a shell script in the tree ``root`` with /proc, /dev, /sys and /run mounted, in a private mount
    namespace (nothing is left mounted)."""
    mounts = (f"mount -t proc proc {root}/proc && mount --rbind /dev {root}/dev && "
              f"mount -t sysfs sys {root}/sys && mount -t tmpfs tmpfs {root}/run")
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                             f"{mounts} && exec chroot {root} /usr/bin/env -i LANG=C.UTF-8 "
                             "PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive /bin/sh -ec \"$0\"",
                             script], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"in the image's chroot:\n{script}\n{result.stdout[-4000:]}{result.stderr[-4000:]}")


def role_packages() -> list[str]:
    """Every Debian package any role's installer asks for (the base has them, as a prepared box would)."""
    return sorted({package for role in ROLES.values() for package in role.packages})


def install_packages(tree: Path, packages: tuple[str, ...]) -> None:
    """Debian's ``packages`` installed in the tree (no service started: policy-rc.d), root's password removed (the
    serial console logs in by itself)."""
    _chroot(tree, "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d\n"
                  "apt-get update -qq\n"
                  f"apt-get install -y -qq --no-install-recommends {' '.join(packages)}"
                  " > /tmp/apt.log 2>&1 || { tail -50 /tmp/apt.log; exit 1; }\n"
                  "rm -f /usr/sbin/policy-rc.d /tmp/apt.log\napt-get clean\n"
                  "passwd -d root\n")


def finish_base(tree: Path, disk: Path, kernel: Path, initrd: Path) -> None:
    """The base's own files (``GUEST_FILES``) and network in the tree, its kernel and initrd copied out, and the
    tree written into ``disk`` (an ext4 file system filling it), then removed."""
    for name, text in GUEST_FILES.items():
        target = tree / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(0o755 if "/sbin/" in name else 0o644)
    _chroot(tree, "systemctl enable systemd-networkd.service\n"
                  "rm -f /etc/resolv.conf; echo 'nameserver 10.0.2.3' > /etc/resolv.conf\n"
                  "echo kiosk-vm > /etc/hostname; rm -f /etc/machine-id; touch /etc/machine-id\n")
    shutil.copy(sorted((tree / "boot").glob("vmlinuz-*"))[-1], kernel)
    shutil.copy(sorted((tree / "boot").glob("initrd.img-*"))[-1], initrd)
    building = disk.with_suffix(".tmp")
    building.unlink(missing_ok=True)
    subprocess.run(["mkfs.ext4", "-q", "-L", "kioskroot", "-d", str(tree), str(building), BASE_SIZE], check=True)
    os.replace(building, disk)
    subprocess.run(["rm", "-rf", "--one-file-system", str(tree)], check=True)


def build_base(log=print) -> Path:
    """The base image (once): Debian bookworm with a kernel, systemd, the roles' packages; see the module."""
    disk, kernel, initrd = base_paths()
    if disk.exists() and kernel.exists() and initrd.exists():
        return disk
    need("mkfs.ext4", "e2fsprogs")
    need("qemu-img", "qemu-utils")
    VM_CACHE.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    tree = VM_CACHE / "base-tree"
    subprocess.run(["rm", "-rf", "--one-file-system", str(tree)], check=True)
    tree.mkdir()
    subprocess.run(["tar", "-C", str(tree), "-xzf", str(bookworm_tarball())], check=True)
    shutil.copy("/etc/resolv.conf", tree / "etc/resolv.conf")
    log(f"base: installing {len(GUEST_PACKAGES) + len(role_packages())} packages into the tree")
    install_packages(tree, GUEST_PACKAGES + tuple(role_packages()))
    finish_base(tree, disk, kernel, initrd)
    log(f"base: {disk} in {time.monotonic() - started:.0f} s")
    return disk


def source_key(extra: str = "", base: Path | None = None, wheels: Path | None = None) -> str:
    """A hash of every file the role layer is built from, of the base it sits on and of its wheels (this
    module's amd64 ones, unless ``base`` and ``wheels`` say: tests/vm/arm64.py)."""
    digest = hashlib.sha256(extra.encode())
    digest.update(str((base or base_paths()[0]).stat().st_mtime_ns).encode())
    for name in SOURCES:
        path = REPO / name
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()
                                                       and "__pycache__" not in p.parts and p.suffix != ".pyc"
                                                       and ".egg-info" not in str(p))
        for file in files:
            digest.update(str(file.relative_to(REPO)).encode())
            digest.update(file.read_bytes())
    digest.update(str(sorted(p.name for p in (wheels or dependency_wheels()).glob("*.whl"))).encode())
    return digest.hexdigest()[:16]


def installer_tree(folder: Path, role: str, version: str | None = None) -> Path:
    """What the installer needs, as a site would carry it: this tree's deploy/ folder and the installer's modules
    (``src/``), a wheelhouse (``wh/``; ``version``: the project's wheel made as that version) and the script that
    runs ``install.sh`` (``install.sh``)."""
    src = folder / "src"
    shutil.copytree(REPO / "deploy", src / "deploy", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "library_kiosk" / "appliance", src / "library_kiosk/appliance",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "library_kiosk" / "__init__.py", src / "library_kiosk/__init__.py")
    shutil.copy(REPO / "pyproject.toml", src / "pyproject.toml")
    fill_wheelhouse(folder / "wh", folder.parent / f"{folder.name}-build", version)
    (folder / "install.sh").write_text(INSTALL_SCRIPT.format(role=role) + (VM_DISPLAY if role == "kiosk" else ""))
    return folder


def payload_disk(content: Path, image: Path, size: str = "1G") -> Path:
    """A disk (ext4, label KIOSKPAYLOAD) holding ``content``, to attach to a machine (``extra_disks``)."""
    subprocess.run(["mkfs.ext4", "-q", "-L", "KIOSKPAYLOAD", "-d", str(content), str(image), size], check=True)
    return image


def overlay(backing: Path, target: Path, backing_format: str = "raw") -> Path:
    """A copy-on-write qcow2 disk over ``backing`` (a raw disk image, or ``backing_format``)."""
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", backing_format, "-b", str(backing),
                    str(target)], check=True)
    return target


def install_into(disk: Path, carried: Path, scratch: Path) -> str:
    """Run ``carried``'s install.sh in a chroot of the raw ``disk`` (loop-mounted in a private mount namespace,
    nothing left mounted); its output."""
    mount = scratch / "root"
    mount.mkdir()
    inside = f"{mount}/tmp/kiosk-image"
    script = (f"mount -o loop {disk} {mount}\n"
              f"mkdir -p {inside} && mount --bind {carried} {inside}\n"
              f"mount -t proc proc {mount}/proc && mount --rbind /dev {mount}/dev\n"
              f"mount -t sysfs sys {mount}/sys && mount -t tmpfs tmpfs {mount}/run\n"
              f"set +e; chroot {mount} /usr/bin/env -i /bin/sh /tmp/kiosk-image/install.sh; rc=$?; set -e\n"
              f"umount {inside} {mount}/proc {mount}/sys {mount}/run; umount -R {mount}/dev\n"
              f"rmdir {inside}; umount {mount}; exit $rc")
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-ec", script],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"install.sh failed in the image:\n{result.stdout[-4000:]}{result.stderr[-4000:]}")
    return result.stdout + result.stderr


def build_role(role: str, log=print) -> Path:
    """The role layer, rebuilt only when the sources changed."""
    if role not in ROLES:
        raise SystemExit(f"unknown role {role!r}: choose one of {', '.join(sorted(ROLES))}")
    build_base(log)
    return build_layer(f"{role}-amd64", source_key(role), base_paths()[0],
                       lambda folder: installer_tree(folder, role), log)


def build_layer(name: str, key: str, base: Path, carry: Callable[[Path], Path], log=print) -> Path:
    """The layer ``name`` (``kiosk-amd64``...): a sparse copy of ``base`` with what ``carry(folder)`` makes (an
    installer tree) installed into it, named ``NAME-KEY.raw`` by its sources; reused while they are the same.
    Never rewritten in place. Rebuilt in place (a code change while a test ran), the next boot of that test,
    after a power cut, read its overlay over the new layer: unit files came back as zeros. Now the older layer is
    removed, and such a test fails at its next boot (its backing file is gone)."""
    disk = VM_CACHE / f"{name}-{key}.raw"
    if disk.exists():
        log(f"{name}: {disk} is up to date")
        return disk
    started = time.monotonic()
    building = VM_CACHE / f"{name}.raw.tmp"
    subprocess.run(["cp", "--sparse=always", str(base), str(building)], check=True)
    try:
        with tempfile.TemporaryDirectory(prefix=f"kiosk-image-{name}-", dir=VM_CACHE) as scratch:
            output = install_into(building, carry(Path(scratch) / "kiosk-image"), Path(scratch))
    except BaseException:
        building.unlink(missing_ok=True)
        raise
    (VM_CACHE / f"{name}.install.log").write_text(output)
    for older in VM_CACHE.glob(f"{name}-*.raw"):
        older.unlink()
    os.replace(building, disk)
    log(f"{name}: {disk} in {time.monotonic() - started:.0f} s (installer's output: {name}.install.log)")
    return disk


def fresh_disk(role: str, folder: Path) -> Path:
    """A throw-away overlay on the role's image, for one test."""
    return overlay(build_role(role, log=lambda *_: None), folder / f"{role}.qcow2")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make image", description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", required=True, choices=sorted(ROLES))
    parser.add_argument("--arch", default="amd64", choices=["amd64", "arm64"],
                        help="arm64: the kiosk role only, built by tests/vm/arm64.py")
    args = parser.parse_args(argv)
    if args.arch == "arm64":
        if args.role != "kiosk":
            parser.error("arm64 images are made for the kiosk role only so far")
        from tests.vm import arm64  # (it builds on this module)

        return arm64.main()
    disk = build_role(args.role)
    _, kernel, initrd = base_paths()
    print(f"disk {disk}\nkernel {kernel}\ninitrd {initrd}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
