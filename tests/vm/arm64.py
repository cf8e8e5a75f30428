"""The kiosk's disk image for arm64 (what a Raspberry Pi runs), booted under emulation (qemu-system-aarch64, TCG).

    make test-arm64                # builds it (python -m tests.vm.arm64) and boots it (tests/vm/test_arm64_boot.py)

The same two layers as the amd64 image (tests/vm/image.py), cached beside it in /var/cache/kiosk-deploy-tests/vm
with ``arm64`` in their names, and built the same way, the arm64 programs run on this host by qemu-user-static
through binfmt_misc (``need_binfmt``):

- the **base**: ``debootstrap --arch=arm64`` minbase (cached as a tarball), then linux-image-arm64, systemd,
  qemu-guest-agent and the kiosk role's Debian packages (only the kiosk's: every package installed under
  emulation costs), the same GUEST_FILES as image.py; an ext4 disk, its kernel and initrd beside it.
- the **kiosk layer**: a sparse copy of the base with the project installed by ``deploy/install.sh --role kiosk``
  in a chroot, from a wheelhouse for aarch64 (``dependency_wheels``): the lock's wheels for manylinux aarch64,
  hash-checked by ``pip download``, and those the lock has no aarch64 wheel of (evdev, pyscard, pydes: sdists) built
  in a throw-away arm64 chroot.

Booted by tests/vm/machine.py's Machine with ``arch="arm64"`` (tests/vm/qemu.py: ``-M virt``, TCG).
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from library_kiosk.appliance.install import READER_BUILD, ROLES, lock_file
from tests.deploy.helpers import CACHE, MINBASE_INCLUDE, MIRROR, REPO, SUITE, WHEELHOUSE_EXTRAS, need, project_wheel
from tests.vm import image
from tests.vm.image import (
    GUEST_FILES,
    GUEST_PACKAGES,
    INSTALL_SCRIPT,
    VM_CACHE,
    VM_DISPLAY,
    _chroot,
    finish_base,
    install_packages,
    overlay,
)

ARCH = "arm64"
ROLE = "kiosk"
# image.py's guest packages, with the arm64 kernel instead of the amd64 one.
ARM64_PACKAGES = tuple("linux-image-arm64" if name == "linux-image-amd64" else name for name in GUEST_PACKAGES)
KIOSK_PACKAGES = ROLES[ROLE].packages
# The wheels of aarch64 Linux a Debian bookworm box can load (glibc 2.36) for its CPython 3.11. pip does not widen a
# manylinux_2_Y platform to the older ones, so each is named.
PLATFORMS = ("manylinux2014_aarch64", *(f"manylinux_2_{minor}_aarch64" for minor in range(17, 37)))
BINFMT = Path("/proc/sys/fs/binfmt_misc")
# The initrd holds only what mounts the virtual disk. initramfs-tools' default (MODULES=most) copies every storage
# and file-system driver, one process per module: under qemu-user that took over 12 minutes, twice (the kernel's
# package, then the trigger at the end). A Pi's image keeps the default.
INITRAMFS_FILES = {
    "etc/initramfs-tools/conf.d/vm-modules.conf": "MODULES=list\n",
    "etc/initramfs-tools/modules": "virtio_pci\nvirtio_blk\next4\n",
}


def need_binfmt() -> None:
    """arm64 programs run on this host (qemu-user-static registered with binfmt_misc, flag F so that it works in a
    chroot): mounted and enabled here if they are not, else the build fails saying what to install."""
    need("qemu-aarch64-static", "qemu-user-static binfmt-support")
    if not (BINFMT / "status").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], check=False)
    entry = BINFMT / "qemu-aarch64"
    if not entry.exists() or "enabled" not in entry.read_text():
        subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], check=False)
    if not entry.exists() or "enabled" not in entry.read_text():
        raise SystemExit("arm64 programs cannot run here: apt-get install qemu-user-static binfmt-support; "
                         "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; update-binfmts --enable "
                         "qemu-aarch64")


def arm64_tarball() -> Path:
    """``debootstrap --arch=arm64 --variant=minbase`` bookworm, with what the amd64 tarball has (tests/deploy/
    helpers.py): made once, cached as a tarball under CACHE."""
    tarball = CACHE / f"{SUITE}-minbase-{ARCH}.tar.gz"
    if tarball.exists():
        return tarball
    need("debootstrap", "debootstrap")
    need_binfmt()
    build = CACHE / f"build-{ARCH}"
    subprocess.run(["rm", "-rf", "--one-file-system", str(build)], check=True)
    made = subprocess.run(["debootstrap", f"--arch={ARCH}", "--variant=minbase", f"--include={MINBASE_INCLUDE}",
                           SUITE, str(build), MIRROR], capture_output=True, text=True)
    if made.returncode != 0:
        raise RuntimeError(f"debootstrap --arch={ARCH}:\n{made.stdout[-3000:]}{made.stderr[-3000:]}")
    subprocess.run(["tar", "-C", str(build), "-czf", f"{tarball}.tmp", "."], check=True)
    os.replace(f"{tarball}.tmp", tarball)
    subprocess.run(["rm", "-rf", "--one-file-system", str(build)], check=True)
    return tarball


def _unpacked(tree: Path) -> Path:
    """The arm64 tarball unpacked at ``tree`` (emptied first), with the host's resolver for apt."""
    subprocess.run(["rm", "-rf", "--one-file-system", str(tree)], check=True)
    tree.mkdir(parents=True)
    subprocess.run(["tar", "-C", str(tree), "-xzf", str(arm64_tarball())], check=True)
    shutil.copy("/etc/resolv.conf", tree / "etc/resolv.conf")
    return tree


def _write(tree: Path, files: dict[str, str]) -> None:
    """``files`` (path in the tree: text) written into ``tree``."""
    for name, text in files.items():
        target = tree / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(0o644)


def base_paths() -> tuple[Path, Path, Path]:
    """The arm64 base disk, its kernel and initrd: named by what the base is made of."""
    made_of = hashlib.sha256(repr((ARM64_PACKAGES, KIOSK_PACKAGES, GUEST_FILES, INITRAMFS_FILES)).encode()
                             ).hexdigest()[:10]
    return (VM_CACHE / f"base-{ARCH}-{made_of}.raw", VM_CACHE / f"vmlinuz-{ARCH}-{made_of}",
            VM_CACHE / f"initrd-{ARCH}-{made_of}")


def build_base(log=print) -> Path:
    """The arm64 base image (once): as image.build_base, the kiosk's packages only."""
    disk, kernel, initrd = base_paths()
    if disk.exists() and kernel.exists() and initrd.exists():
        return disk
    need("mkfs.ext4", "e2fsprogs")
    need_binfmt()
    VM_CACHE.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    tree = _unpacked(VM_CACHE / f"base-tree-{ARCH}")
    _write(tree, INITRAMFS_FILES)
    log(f"base {ARCH}: installing {len(ARM64_PACKAGES) + len(KIOSK_PACKAGES)} packages into the tree (emulated)")
    install_packages(tree, ARM64_PACKAGES + KIOSK_PACKAGES)
    finish_base(tree, disk, kernel, initrd)
    log(f"base {ARCH}: {disk} in {time.monotonic() - started:.0f} s")
    return disk


def _requirements(lock: Path) -> dict[str, str]:
    """The lock's entries by name: each requirement line with its hashes (pip's requirement-file syntax)."""
    entries: dict[str, str] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", lock.read_text()):
        found = re.match(r"([A-Za-z0-9._-]+)==", block)
        if found:
            entries[found.group(1).lower()] = block.split("\n    #")[0].rstrip(" \\\n") + "\n"
    return entries


def _download(requirements: list[str], folder: Path) -> subprocess.CompletedProcess:
    """``pip download`` of ``requirements`` (lock entries, hash-checked): their aarch64 wheels."""
    listed = folder / "requirements.txt"
    listed.write_text("".join(requirements))
    return subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
                           "--only-binary=:all:", *(f"--platform={name}" for name in PLATFORMS),
                           "--python-version=3.11", "--implementation=cp", "--abi=cp311", "--abi=abi3",
                           "--dest", str(folder), "-r", str(listed)], capture_output=True, text=True)


def _aarch64_wheels(lock: Path, folder: Path) -> list[str]:
    """The lock's aarch64 wheels into ``folder``; the requirements that have none (to build from their sdists).
    pip stops at the first requirement it finds no wheel of: that one is set aside and the rest asked again."""
    entries = _requirements(lock)
    from_source: list[str] = []
    while True:
        result = _download([entries[name] for name in entries if name not in from_source], folder)
        if result.returncode == 0:
            return [entries[name] for name in from_source]
        missing = re.search(r"No matching distribution found for ([A-Za-z0-9._-]+)==", result.stderr)
        if not missing or missing.group(1).lower() in from_source:
            raise RuntimeError(f"pip download (aarch64):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        from_source.append(missing.group(1).lower())


def _build_in_arm64(requirements: list[str], into: Path) -> None:
    """Wheels of ``requirements`` (lock entries with their hashes) built from their sdists in a throw-away arm64
    chroot (gcc, swig, the PC/SC headers: the installer's READER_BUILD; pip there checks the hashes), put in
    ``into``. In the chroot, not on the host: the host's pip cannot even read pyscard's metadata for another
    platform (its build dependency swig has to be built first). No ``--no-binary``: these have no aarch64 wheel
    anyway, and pip would pass it on to their build dependencies (setuptools, swig: built from source too).
    ``--use-pep517``: pydes has only a setup.py, which bookworm's pip would run with ``bdist_wheel`` (no ``wheel``
    in the venv)."""
    tree = _unpacked(VM_CACHE / f"wheel-tree-{ARCH}")
    try:
        (tree / "tmp/requirements.txt").write_text("".join(requirements))
        # pip there trusts what pip here trusts (a site's TLS-inspecting proxy: its CA is in the host's bundle)
        shutil.copy(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt", tree / "tmp/ca.crt")
        _chroot(tree, "apt-get update -qq\n"
                      f"apt-get install -y -qq --no-install-recommends {' '.join(READER_BUILD)} > /tmp/apt.log 2>&1"
                      " || { tail -50 /tmp/apt.log; exit 1; }\n"
                      "python3 -m venv /tmp/build\n"
                      "PIP_CERT=/tmp/ca.crt /tmp/build/bin/pip wheel --quiet --no-deps --require-hashes --use-pep517 "
                      "--wheel-dir /tmp/wheels -r /tmp/requirements.txt\n")
        for wheel in (tree / "tmp/wheels").glob("*.whl"):
            shutil.copy(wheel, into / wheel.name)
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", str(tree)], check=True)


def dependency_wheels(log=print) -> Path:
    """Every dependency's aarch64 wheel, from the lock with its hashes checked (the sdist-only ones built under
    emulation); made once per lock, cached under CACHE."""
    lock = lock_file(REPO, WHEELHOUSE_EXTRAS)
    key = hashlib.sha256(repr((lock.read_bytes(), PLATFORMS)).encode()).hexdigest()[:12]
    deps = CACHE / f"wheelhouse-{ARCH}-{key}"
    if deps.exists():
        return deps
    started = time.monotonic()
    building = CACHE / f"wheelhouse-{ARCH}-{key}.tmp"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    from_source = _aarch64_wheels(lock, building)
    if from_source:
        log(f"wheelhouse {ARCH}: building {len(from_source)} from their sdists (emulated)")
        _build_in_arm64(from_source, building)
    (building / "requirements.txt").unlink()
    os.replace(building, deps)
    log(f"wheelhouse {ARCH}: {deps} in {time.monotonic() - started:.0f} s")
    return deps


def installer_tree(folder: Path) -> Path:
    """As image.installer_tree, with the aarch64 wheelhouse: deploy/, the installer's modules, the wheels, every
    role's lock, this tree's wheel (pure Python: built on the host) and the script that runs install.sh."""
    src = folder / "src"
    shutil.copytree(REPO / "deploy", src / "deploy", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "library_kiosk" / "appliance", src / "library_kiosk/appliance",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "library_kiosk" / "__init__.py", src / "library_kiosk/__init__.py")
    shutil.copy(REPO / "pyproject.toml", src / "pyproject.toml")
    house = folder / "wh"
    house.mkdir(parents=True)
    for wheel in dependency_wheels().glob("*.whl"):
        os.link(wheel, house / wheel.name)
    for role in ROLES.values():
        shutil.copy(lock_file(REPO, role.extras), house)
    scratch = folder.parent / f"{folder.name}-build"
    scratch.mkdir()
    project_wheel(house, scratch)
    (folder / "install.sh").write_text(INSTALL_SCRIPT.format(role=ROLE) + VM_DISPLAY)
    return folder


def source_key() -> str:
    """A hash of every file the kiosk layer is built from, of its base and of its wheels (image.source_key)."""
    base = base_paths()[0]
    return image.source_key(base.name, base, dependency_wheels())


def build_kiosk(log=print) -> Path:
    """The arm64 kiosk layer, rebuilt only when the sources changed (image.build_layer)."""
    build_base(log)
    dependency_wheels(log)
    return image.build_layer(f"{ROLE}-{ARCH}", source_key(), base_paths()[0], installer_tree, log)


def fresh_disk(folder: Path) -> Path:
    """A throw-away overlay on the arm64 kiosk image, for one test."""
    return overlay(build_kiosk(log=lambda *_: None), folder / f"{ROLE}-{ARCH}.qcow2")


def main() -> int:
    started = time.monotonic()
    disk = build_kiosk()
    _, kernel, initrd = base_paths()
    print(f"disk {disk}\nkernel {kernel}\ninitrd {initrd}\n({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
