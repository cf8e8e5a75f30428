"""The release's dependencies are pinned and hash-checked (requirements/release-*.txt, `make lock`).

`kiosk install` and `kiosk upgrade` fill a release from PyPI with the role's lock under
``pip install --require-hashes``, then the project with ``--no-deps``: pip resolves nothing at install
time. tests/deploy/test_chroot_install.py builds its wheelhouse from the same locks.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from library_kiosk.appliance.install import PINS, ROLES, InstallError, find_lock, lock_file, pins_of, pip_commands
from tests.deploy.helpers import REPO

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def project() -> dict:
    with open(REPO / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]


def locked(path: Path) -> dict[str, tuple[str, list[str], bool]]:
    """Each requirement of a lock: name -> (version, its hashes, asked for by pyproject.toml itself);
    fails on any requirement that is not pinned with ==."""
    entries: dict[str, tuple[str, list[str], bool]] = {}
    for block in re.split(r"\n(?=\S)", path.read_text()):
        first = block.split("\n", 1)[0]
        if not first.strip() or first.startswith("#"):
            continue
        match = PIN.match(first)
        assert match, f"{path.name}: not pinned: {first}"
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
        entries[canonicalize_name(match.group(1))] = (match.group(2), hashes, "library-kiosk (pyproject.toml)" in block)
    return entries


def wanted(extras) -> set[str]:
    meta = project()
    requirements = list(meta["dependencies"])
    for extra in extras:
        requirements += meta["optional-dependencies"][extra]
    return {canonicalize_name(Requirement(r).name) for r in requirements}


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_dependency_of_the_role_is_pinned_with_hashes(role):
    extras = ROLES[role].extras
    lock = lock_file(REPO, extras)
    assert lock.is_file(), f"{lock} is missing: make lock"
    entries = locked(lock)
    for name in wanted(extras):
        assert name in entries, f"{name} is not in {lock.name}: make lock"
    for name, (version, hashes, _) in entries.items():
        assert hashes, f"{lock.name}: {name}=={version} has no --hash"
    # exactly what pyproject.toml asks for, no more: a lock not made again after a change fails here
    assert {name for name, (_, _, direct) in entries.items() if direct} == wanted(extras)


def test_the_locks_agree_on_every_version():
    versions: dict[str, set[str]] = {}
    for role in ROLES.values():
        for name, (version, _, _) in locked(lock_file(REPO, role.extras)).items():
            versions.setdefault(name, set()).add(version)
    assert {name: v for name, v in versions.items() if len(v) > 1} == {}


@pytest.mark.parametrize("role", sorted(ROLES))
def test_the_installer_installs_the_lock_with_require_hashes_then_the_project_alone(role, tmp_path):
    extras = ROLES[role].extras
    release = tmp_path / "release"
    dependencies, own, check = pip_commands(release, "0.1.0", extras, source=REPO, wheelhouse=None)
    assert dependencies[:4] == [str(release / "bin" / "python"), "-m", "pip", "install"]
    assert "--require-hashes" in dependencies
    assert dependencies[dependencies.index("-r") + 1] == str(lock_file(REPO, extras))
    assert own[:4] == dependencies[:4] and "--no-deps" in own and own[-1] == str(REPO)
    assert not any(arg.startswith(str(REPO) + "[") for arg in dependencies + own)   # no resolving from extras
    assert check[1:4] == ["-m", "pip", "check"]


def test_from_a_wheelhouse_the_locks_versions_and_nothing_else(tmp_path):
    """Offline, the release gets the lock's versions with --no-deps (the hashes were checked when the
    wheelhouse was built from the lock: docs/operations.md); the wheelhouse's copy of the lock comes first."""
    release, house = tmp_path / "release", tmp_path / "wheels"
    dependencies, own, _ = pip_commands(release, "0.1.0", ("readers",), source=REPO, wheelhouse=house)
    for command in (dependencies, own):
        assert {"--no-index", "--no-deps"} <= set(command) and str(house) in command
    assert dependencies[-2:] == ["-r", str(release / PINS)] and own[-1] == "library-kiosk==0.1.0"
    lock = lock_file(REPO, ("readers",))
    assert find_lock(("readers",), source=REPO, wheelhouse=house) == lock
    house.mkdir()
    (house / lock.name).write_text(lock.read_text())
    assert find_lock(("readers",), source=REPO, wheelhouse=house) == house / lock.name
    pins = pins_of(lock.read_text())
    assert "--hash" not in pins and "\\" not in pins
    assert {n: v for n, (v, _, _) in locked(lock).items()} == {
        canonicalize_name(m.group(1)): m.group(2) for m in re.finditer(r"^(\S+)==([^\s;]+)", pins, flags=re.M)}


def test_a_source_without_its_lock_is_refused(tmp_path):
    with pytest.raises(InstallError, match="make lock"):
        pip_commands(tmp_path / "release", "0.1.0", ("readers",), source=tmp_path, wheelhouse=None)


@pytest.mark.slow  # a real virtual environment from PyPI, hash-checked: about 20 s (evdev builds from its sdist)
def test_a_release_builds_from_pypi_with_the_kiosks_lock(tmp_path):
    """build_release as `kiosk install --role kiosk` runs it: Debian's python3, the lock, then the project."""
    import subprocess

    from library_kiosk.appliance.install import build_release

    release = tmp_path / "release"
    assert build_release(release, "0.1.0", ROLES["kiosk"].extras, source=REPO, wheelhouse=None,
                         python="/usr/bin/python3")
    frozen = subprocess.run([str(release / "bin" / "python"), "-m", "pip", "freeze", "--all"],
                            capture_output=True, text=True, check=True).stdout
    installed = {canonicalize_name(line.split("==")[0]): line.split("==")[1]
                 for line in frozen.splitlines() if "==" in line}
    lock = locked(lock_file(REPO, ROLES["kiosk"].extras))
    for name in wanted(ROLES["kiosk"].extras):
        assert installed.get(name) == lock[name][0], name
