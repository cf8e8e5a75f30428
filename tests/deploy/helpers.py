"""Plain helpers for the deployment tests: where the repository's deployment files are, the cache of
debootstrap's downloads, a tool that must be installed, and waiting for an HTTP server to answer.

Shared by the chroot install (tests/deploy/test_chroot_install.py) and the VM image (tests/vm/image.py):
the cached debootstrap bookworm tarball and the hash-checked wheelhouse."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
CACHE = Path(os.environ.get("KIOSK_DEPLOY_CACHE", "/var/cache/kiosk-deploy-tests"))


def need(tool: str, package: str) -> str:
    """The path of ``tool``; the test fails, saying which Debian package to install, when it is missing."""
    path = shutil.which(tool)
    if not path:
        pytest.fail(f"{tool} is missing: apt-get install {package}")
    return path


def wait_http(url: str, seconds: float = 30) -> None:
    """Wait until ``url`` answers (any HTTP answer)."""
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {seconds} s")


def unit(name: str) -> dict[str, list[str]]:
    """A shipped systemd unit's settings: each key with its values in order (a key may repeat)."""
    values: dict[str, list[str]] = {}
    for line in (DEPLOY / "systemd" / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            values.setdefault(key, []).append(value)
    return values


SUITE = "bookworm"
MINBASE_INCLUDE = "python3,python3-venv,ca-certificates,systemd,udev,pcscd,kmod"
MIRROR = "http://deb.debian.org/debian"
WHEELHOUSE_EXTRAS = ("readers", "postgres")      # the station's lock: every dependency of every role


def bookworm_tarball() -> Path:
    """``debootstrap --variant=minbase`` bookworm (amd64) with python3-venv, systemd, udev, pcscd: made once,
    cached as a tarball under CACHE."""
    tarball = CACHE / f"{SUITE}-minbase-amd64.tar.gz"
    if tarball.exists():
        return tarball
    need("debootstrap", "debootstrap")
    CACHE.mkdir(parents=True, exist_ok=True)
    build = CACHE / "build"
    shutil.rmtree(build, ignore_errors=True)
    subprocess.run(["debootstrap", "--variant=minbase", f"--include={MINBASE_INCLUDE}", SUITE, str(build),
                    MIRROR], check=True, capture_output=True)
    subprocess.run(["tar", "-C", str(build), "-czf", f"{tarball}.tmp", "."], check=True)
    os.replace(f"{tarball}.tmp", tarball)
    shutil.rmtree(build)
    return tarball


def dependency_wheels() -> Path:
    """Every dependency's wheel, built from the lock with its hashes checked (as docs/operations.md says a site's
    wheelhouse is built); made once per lock and Python version, cached under CACHE."""
    from library_kiosk.appliance.install import lock_file

    lock = lock_file(REPO, WHEELHOUSE_EXTRAS)
    key = hashlib.sha256(repr((lock.read_bytes(), sys.version_info[:2])).encode()).hexdigest()[:12]
    deps = CACHE / f"wheelhouse-{key}"
    if not deps.exists():
        building = CACHE / f"wheelhouse-{key}.tmp"
        shutil.rmtree(building, ignore_errors=True)
        built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--require-hashes",
                                "--wheel-dir", str(building), "-r", str(lock)], capture_output=True, text=True)
        if built.returncode != 0:
            raise AssertionError(built.stdout[-3000:] + built.stderr[-3000:])
        os.replace(building, deps)
    return deps


def project_wheel(house: Path, scratch: Path, version: str | None = None) -> Path:
    """This tree's own wheel into ``house`` (built from a copy in ``scratch``; ``version`` overrides
    pyproject's, for an upgrade to a newer release)."""
    source = scratch / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "var", "tests", "*.egg-info", "__pycache__", "build", "node_modules", ".pytest_cache",
        "test-artifacts", "bench"))
    if version:
        pyproject = source / "pyproject.toml"
        text = pyproject.read_text()
        import re
        pyproject.write_text(re.sub(r'(?m)^version = "[^"]*"', f'version = "{version}"', text, count=1))
    before = set(house.glob("library_kiosk-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(house), str(source)], check=True, capture_output=True)
    shutil.rmtree(source)
    (made,) = set(house.glob("library_kiosk-*.whl")) - before
    return made


def fill_wheelhouse(house: Path, scratch: Path, version: str | None = None) -> Path:
    """A site's wheelhouse in ``house``: the dependencies' wheels (hard links into the cache), each role's lock,
    and this tree's wheel (as ``version``, if given)."""
    from library_kiosk.appliance.install import ROLES, lock_file

    house.mkdir(parents=True, exist_ok=True)
    for wheel in dependency_wheels().glob("*.whl"):
        os.link(wheel, house / wheel.name)
    for role in ROLES.values():                      # each role's lock travels with the wheels
        shutil.copy(lock_file(REPO, role.extras), house)
    scratch.mkdir(parents=True, exist_ok=True)
    project_wheel(house, scratch, version)
    return house
