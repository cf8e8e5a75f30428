"""Install a box by role: ``deploy/install.sh --role kiosk|station|central`` or ``kiosk install``.

Standard library only: it runs with the system's python3 before any virtual environment
exists. Idempotent: a second run finds everything in place, changes nothing and says so.
Every step prints one line, ``changed:`` or ``ok:``.

What it sets up (paths under ``--root``, default ``/``):

- Debian packages the role needs (``apt-get install``; ``--skip-packages`` to leave them alone)
- the system users ``kiosk`` (every service) and ``kiosk-display`` (the browser, kiosk role)
- a versioned virtual environment ``/opt/kiosk/releases/VERSION`` and the ``current`` symlink,
  from PyPI (the project from ``--source``; its dependencies only from the role's lock,
  ``requirements/release-*.txt``, hash-checked) or from ``--wheelhouse DIR`` without internet
- ``/etc/kiosk/kiosk.toml`` (written once, never overwritten) and ``kiosk.example.toml``
- the role's systemd units in ``/etc/systemd/system``, enabled
- udev rules and the kernel-module blacklist for NFC readers (kiosk, station)
- Chromium's managed policy allowing only the kiosk's origin (kiosk)
- TLS for the central store (central): the library's certificate (``--tls-cert``, ``--tls-key``) copied into
  ``/etc/kiosk/tls/``, or else a fleet CA and a certificate for ``--tls-hosts`` made there by ``kiosk tls init``
  (the release's, since this file uses the standard library only); the first ``kiosk.toml`` names them
  (docs/tls.md)
"""
from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

PREFIX = "/opt/kiosk"
SERVICE_USER = "kiosk"
DISPLAY_USER = "kiosk-display"
CONFIG_DIR = "/etc/kiosk"
STATE_DIR = "/var/lib/kiosk"
UNIT_DIR = "/etc/systemd/system"
TLS_DIR = "/etc/kiosk/tls"
POLICY_FILE = "/etc/chromium/policies/managed/kiosk-lockdown.json"
UDEV_RULES = "/etc/udev/rules.d/60-kiosk-nfc-readers.rules"
TOUCH_RULES = "/etc/udev/rules.d/61-kiosk-touch.rules"
MODPROBE_FILE = "/etc/modprobe.d/kiosk-nfc-blacklist.conf"
PROJECT = "library-kiosk"
ADMIN_COMMAND = "/usr/local/bin/kiosk"


def admin_command(prefix: str) -> str:
    return ("#!/bin/sh\n# Written by kiosk install: the installed release's kiosk command, reading this box's "
            "configuration.\n"
            f': "${{KIOSK_CONFIG:={CONFIG_DIR}/kiosk.toml}}"\nexport KIOSK_CONFIG\n'
            f'exec {prefix}/current/bin/kiosk "$@"\n')


@dataclasses.dataclass(frozen=True)
class Role:
    units: tuple[str, ...]
    extras: tuple[str, ...]
    packages: tuple[str, ...]
    build_packages: tuple[str, ...] = ()   # only when installing from PyPI (sdists to build)
    readers: bool = False
    screen: bool = False


READER_BUILD = ("python3-dev", "gcc", "swig", "libpcsclite-dev")
ROLES: dict[str, Role] = {
    "kiosk": Role(
        units=("kiosk-web.service", "kiosk-reader.service", "kiosk-sync.service", "kiosk-browser.service"),
        extras=("readers",),
        # polkitd: cage's libseat asks logind to activate the display user's session on tty1, which logind allows
        # an active session's owner only through polkit; without it cage never gets the screen (found booting the
        # image: tests/vm)
        # xwayland: Debian's cage only recommends it (not installed here) and stops without it, "Cannot find
        # Xwayland binary", then hangs, the unit "active" on a black screen (found booting the image: tests/vm)
        packages=("python3-venv", "pcscd", "libccid", "cage", "chromium", "wlr-randr", "fonts-dejavu-core",
                  "polkitd", "xwayland"),
        build_packages=READER_BUILD, readers=True, screen=True),
    "station": Role(
        units=("kiosk-provisioning.service", "kiosk-reader.service"),
        extras=("readers", "postgres"),
        packages=("python3-venv", "pcscd", "libccid"),
        build_packages=READER_BUILD, readers=True),
    "central": Role(
        units=("kiosk-central.service",),
        extras=("postgres",),
        packages=("python3-venv",)),
}


class InstallError(RuntimeError):
    """The installation cannot go on; the message says why and what to do."""


def find_deploy_dir(source: str | None = None) -> Path:
    """The ``deploy/`` folder: from ``--source``, the source tree, or the installed release."""
    candidates = []
    if source:
        candidates.append(Path(source) / "deploy")
    candidates.append(Path(__file__).resolve().parents[2] / "deploy")
    candidates.append(Path(sys.prefix) / "share" / "kiosk" / "deploy")
    for candidate in candidates:
        if (candidate / "systemd").is_dir():
            return candidate
    raise InstallError("cannot find the deploy/ folder; run from the source tree or pass --source")


def version_of_source(source: Path) -> str:
    with open(source / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]["version"]


def _version_key(version: str):
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"[.+-]", version))


def version_in_wheelhouse(wheelhouse: Path) -> str:
    wheels = glob.glob(str(wheelhouse / "library_kiosk-*.whl"))
    if not wheels:
        raise InstallError(f"no library_kiosk-*.whl in the wheelhouse {wheelhouse}; "
                           "build one from the lock as docs/operations.md (Install) says: pip wheel --require-hashes "
                           "-r requirements/release-postgres-readers.txt -w WHEELHOUSE, and the project's wheel")
    versions = [Path(w).name.split("-")[1] for w in wheels]
    return max(versions, key=_version_key)


class Installer:
    def __init__(self, role: str, *, root: str = "/", prefix: str = PREFIX, source: str | None = None,
                 wheelhouse: str | None = None, skip_packages: bool = False, skip_users: bool = False,
                 skip_venv: bool = False, python: str = "python3", out=print, tls_hosts: str = "",
                 tls_cert: str = "", tls_key: str = ""):
        if role not in ROLES:
            raise InstallError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
        self.role_name = role
        self.role = ROLES[role]
        self.root = Path(root)
        self.prefix = prefix
        self.deploy = find_deploy_dir(source)
        self.source = Path(source) if source else self.deploy.parent
        self.wheelhouse = Path(wheelhouse).resolve() if wheelhouse else None
        self.skip_packages = skip_packages
        self.skip_users = skip_users
        self.skip_venv = skip_venv
        self.python = python
        self.out = out
        self.tls_hosts, self.tls_cert, self.tls_key = tls_hosts, tls_cert, tls_key
        if bool(tls_cert) != bool(tls_key):
            raise InstallError("--tls-cert and --tls-key go together: the library's certificate and its key")
        self.changes: list[str] = []
        self.changed_units: set[str] = set()

    # -- helpers ---------------------------------------------------------------------------
    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    def report(self, changed: bool, what: str) -> bool:
        if changed:
            self.changes.append(what)
        self.out(f"{'changed' if changed else 'ok':>7}: {what}", flush=True)
        return changed

    def _chown(self, target: Path, user: str | None, group: str | None) -> None:
        if self.skip_users or (user is None and group is None):
            return
        shutil.chown(target, user=user, group=group)

    def _owner_differs(self, target: Path, user: str | None, group: str | None) -> bool:
        if self.skip_users:
            return False
        import grp
        import pwd
        st = target.stat()
        return ((user is not None and pwd.getpwuid(st.st_uid).pw_name != user)
                or (group is not None and grp.getgrgid(st.st_gid).gr_name != group))

    def ensure_dir(self, absolute: str, mode: int = 0o755, user: str | None = None,
                   group: str | None = None) -> bool:
        target = self.path(absolute)
        changed = False
        if not target.is_dir():
            target.mkdir(parents=True)
            changed = True
        if (target.stat().st_mode & 0o7777) != mode:
            target.chmod(mode)
            changed = True
        if self._owner_differs(target, user, group):
            changed = True
        self._chown(target, user, group)
        return changed

    def ensure_file(self, absolute: str, content: bytes, mode: int = 0o644, user: str | None = None,
                    group: str | None = None, what: str | None = None) -> bool:
        target = self.path(absolute)
        target.parent.mkdir(parents=True, exist_ok=True)
        changed = not target.is_file() or target.read_bytes() != content
        if changed:
            temporary = target.with_name(f".{target.name}.new")
            temporary.write_bytes(content)
            temporary.chmod(mode)
            self._chown(temporary, user, group)
            os.replace(temporary, target)
        if (target.stat().st_mode & 0o7777) != mode:
            target.chmod(mode)
            changed = True
        if self._owner_differs(target, user, group):
            self._chown(target, user, group)
            changed = True
        self.report(changed, what or absolute)
        return changed

    def ensure_symlink(self, absolute: str, target: str, what: str | None = None) -> bool:
        link = self.path(absolute)
        link.parent.mkdir(parents=True, exist_ok=True)
        changed = not (link.is_symlink() and os.readlink(link) == target)
        if changed:
            temporary = link.with_name(f".{link.name}.new")
            if temporary.is_symlink() or temporary.exists():
                temporary.unlink()
            temporary.symlink_to(target)
            os.replace(temporary, link)
        self.report(changed, what or f"{absolute} -> {target}")
        return changed

    def _run(self, command: list[str], **kwargs) -> subprocess.CompletedProcess:
        result = subprocess.run(command, text=True, capture_output=True, **kwargs)
        if result.returncode != 0:
            raise InstallError(f"{' '.join(command)} failed ({result.returncode}):\n"
                               f"{result.stdout[-2000:]}{result.stderr[-2000:]}")
        return result

    # -- steps -----------------------------------------------------------------------------
    def packages(self) -> None:
        wanted = list(self.role.packages)
        if not self.wheelhouse:
            wanted += self.role.build_packages
        if self.skip_packages:
            self.report(False, f"Debian packages left alone (--skip-packages): {' '.join(wanted)}")
            return
        missing = [p for p in wanted if subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True).stdout
            != "install ok installed"]
        if not missing:
            self.report(False, f"Debian packages: {' '.join(wanted)}")
            return
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        self._run(["apt-get", "update", "-qq"], env=env)
        self._run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)
        self.report(True, f"Debian packages installed: {' '.join(missing)}")

    def users(self) -> None:
        if self.skip_users:
            self.report(False, "system users left alone (--skip-users)")
            return
        import pwd
        wanted = [(SERVICE_USER, STATE_DIR, ())]
        if self.role.screen:
            wanted.append((DISPLAY_USER, "/nonexistent", ("video", "render", "input")))
        for name, home, groups in wanted:
            try:
                pwd.getpwnam(name)
                self.report(False, f"system user {name}")
            except KeyError:
                self._run(["useradd", "--system", "--user-group", "--home-dir", home, "--no-create-home",
                           "--shell", "/usr/sbin/nologin", "--comment", "library kiosk", name])
                self.report(True, f"system user {name} created")
            self._groups(name, groups)

    def _groups(self, user: str, groups) -> None:
        import grp
        for group in groups:
            try:
                members = grp.getgrnam(group).gr_mem
            except KeyError:
                self._run(["groupadd", "--system", group])
                members = []
                self.report(True, f"system group {group} created")
            if user not in members:
                self._run(["usermod", "--append", "--groups", group, user])
                self.report(True, f"{user} added to group {group}")

    def release_version(self) -> str:
        return version_in_wheelhouse(self.wheelhouse) if self.wheelhouse else version_of_source(self.source)

    def venv(self) -> str:
        version = self.release_version()
        if self.skip_venv:
            self.report(False, f"virtual environment left alone (--skip-venv), version {version}")
            return version
        build_release(self.path(f"{self.prefix}/releases/{version}"), version, self.role.extras,
                      source=self.source, wheelhouse=self.wheelhouse, python=self.python,
                      deploy=self.deploy, report=self.report)
        self.ensure_symlink(f"{self.prefix}/current", f"releases/{version}")
        # `sudo kiosk doctor`, `kiosk enrol`...: on the PATH, and reading the box's configuration as the units do
        # (KIOSK_CONFIG); without it they read the built-in defaults (found booting the image: tests/vm)
        self.ensure_file(ADMIN_COMMAND, admin_command(self.prefix).encode(), 0o755,
                         what=f"{ADMIN_COMMAND} (the release's kiosk, with {CONFIG_DIR}/kiosk.toml)")
        return version

    def tls(self) -> dict[str, str] | None:
        """The central store's certificate: kept if the configuration names one; else the library's, copied in;
        else a fleet CA and a certificate made here. Returns the settings for a first kiosk.toml, or None."""
        named = self.config().get("central", {}).get("tls_cert")
        if named:
            self.report(False, f"[central] tls_cert {named} kept as configured")
            return None
        self.ensure_dir(TLS_DIR, 0o750, "root", None if self.skip_users else SERVICE_USER)
        cert, key = f"{TLS_DIR}/central.pem", f"{TLS_DIR}/central.key"
        owner = (None, None) if self.skip_users else (SERVICE_USER, SERVICE_USER)
        if self.tls_cert:  # the library's own certificate
            try:
                self.ensure_file(cert, Path(self.tls_cert).read_bytes(), 0o644, what=f"{cert} (from {self.tls_cert})")
                self.ensure_file(key, Path(self.tls_key).read_bytes(), 0o600, *owner,
                                 what=f"{key} (from {self.tls_key}, mode 0600)")
            except OSError as exc:
                raise InstallError(f"cannot read the library's certificate or key: {exc}") from None
        elif self.path(cert).is_file() and self.path(key).is_file():
            self.report(False, f"{cert}, signed by the fleet CA {TLS_DIR}/ca.pem")
        elif not self._fleet_certificate(cert, key, owner):
            return None
        return {"tls_cert": cert, "tls_key": key}

    def _fleet_certificate(self, cert: str, key: str, owner) -> bool:
        """``kiosk tls init`` with the release's Python (or this one, if it has ``cryptography``)."""
        import importlib.util
        import socket

        hosts = self.tls_hosts or ",".join(dict.fromkeys([socket.getfqdn(), socket.gethostname(), "localhost",
                                                          "127.0.0.1"]))
        folder = self.path(TLS_DIR)
        kiosk = self.path(f"{self.prefix}/current/bin/kiosk")
        if kiosk.exists():
            import os

            environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the release's own modules
            self._run([str(kiosk), "tls", "init", "--hosts", hosts, "--dir", str(folder), "--name", "central"],
                      env=environment)
        elif importlib.util.find_spec("cryptography") is not None:
            from library_kiosk.web import tls

            tls.init(folder, hosts, "central")
        else:
            self.out(f"WARNING: no release to make the fleet CA with: the central store will serve plain HTTP; "
                     f"run `kiosk tls init --hosts NAMES --dir {TLS_DIR}` and set [central] tls_cert, tls_key",
                     flush=True)
            return False
        self._chown(self.path(key), *owner)
        self.report(True, f"fleet CA {TLS_DIR}/ca.pem (give it to every kiosk: [kiosk] central_ca) and {cert} "
                          f"for {hosts}")
        return True

    def configuration(self, tls: dict[str, str] | None = None) -> None:
        self.ensure_dir(CONFIG_DIR, 0o750, "root", None if self.skip_users else SERVICE_USER)
        self.report(False, f"{CONFIG_DIR}/")
        example = (self.deploy / "kiosk.example.toml").read_bytes()
        self.ensure_file(f"{CONFIG_DIR}/kiosk.example.toml", example, 0o644)
        config = self.path(f"{CONFIG_DIR}/kiosk.toml")
        if config.exists():
            self.report(False, f"{CONFIG_DIR}/kiosk.toml kept as it is (edit it; see kiosk.example.toml)")
        else:
            self.ensure_file(f"{CONFIG_DIR}/kiosk.toml", initial_config(self.role_name, tls).encode(), 0o640,
                             "root", None if self.skip_users else SERVICE_USER)
        self.ensure_dir(STATE_DIR, 0o750, *((None, None) if self.skip_users else (SERVICE_USER, SERVICE_USER)))

    def config(self) -> dict:
        """The box's configuration as the services will read it (defaults, then the file)."""
        path = self.path(f"{CONFIG_DIR}/kiosk.toml")
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            data = {}
        except tomllib.TOMLDecodeError as exc:
            raise InstallError(f"{path} is not valid TOML: {exc}") from None
        return data

    def units(self) -> None:
        for unit in self.role.units:
            content = (self.deploy / "systemd" / unit).read_bytes()
            if self.ensure_file(f"{UNIT_DIR}/{unit}", content, 0o644):
                self.changed_units.add(unit)
            target = "graphical.target" if unit == "kiosk-browser.service" else "multi-user.target"
            self.ensure_symlink(f"{UNIT_DIR}/{target}.wants/{unit}", f"{UNIT_DIR}/{unit}",
                                what=f"{unit} enabled ({target})")
        if self.role.screen:
            self.ensure_symlink(f"{UNIT_DIR}/default.target", "/lib/systemd/system/graphical.target",
                                what="boots to graphical.target (the kiosk screen)")

    def readers(self) -> None:
        if not self.role.readers:
            return
        self.ensure_file(UDEV_RULES, (self.deploy / "udev" / "60-kiosk-nfc-readers.rules").read_bytes())
        self.ensure_file(MODPROBE_FILE, (self.deploy / "modprobe" / "kiosk-nfc-blacklist.conf").read_bytes())
        if self.path("/lib/systemd/system/pcscd.socket").exists():
            self.ensure_symlink(f"{UNIT_DIR}/sockets.target.wants/pcscd.socket",
                                "/lib/systemd/system/pcscd.socket", what="pcscd.socket enabled (PC/SC readers)")

    def screen(self) -> None:
        if not self.role.screen:
            return
        config = self.config()
        policy = json.loads((self.deploy / "chromium" / "kiosk-lockdown.json").read_text())
        policy["URLAllowlist"] = [kiosk_origin(config)]
        self.ensure_file(POLICY_FILE, (json.dumps(policy, indent=2) + "\n").encode(), 0o644,
                         what=f"{POLICY_FILE} (only {kiosk_origin(config)} allowed)")
        screen = config.get("screen", {})
        matrix = str(screen.get("touch_calibration", "")).split()
        if matrix:
            if len(matrix) != 6:
                raise InstallError("[screen] touch_calibration must be six numbers, e.g. \"0 1 0 -1 0 1\"")
            rule = ("# Written by kiosk install from [screen] touch_calibration in /etc/kiosk/kiosk.toml\n"
                    'ACTION=="add|change", SUBSYSTEM=="input", ENV{ID_INPUT_TOUCHSCREEN}=="1", '
                    f'ENV{{LIBINPUT_CALIBRATION_MATRIX}}="{" ".join(matrix)}"\n')
            self.ensure_file(TOUCH_RULES, rule.encode())
        elif self.path(TOUCH_RULES).exists():
            self.path(TOUCH_RULES).unlink()
            self.report(True, f"{TOUCH_RULES} removed (no [screen] touch_calibration)")
        if screen.get("compositor", "cage") == "labwc":
            autostart = (self.deploy / "screen" / "labwc-autostart").read_bytes()
            self.ensure_file("/etc/xdg/labwc/autostart", autostart)
        cmdline = self.path("/boot/firmware/cmdline.txt")      # Raspberry Pi OS: console blanking off
        if cmdline.exists():
            text = cmdline.read_text()
            if "consoleblank=0" not in text:
                cmdline.write_text(text.rstrip("\n") + " consoleblank=0\n")
            self.report("consoleblank=0" not in text, "/boot/firmware/cmdline.txt has consoleblank=0")

    def activate(self) -> None:
        """Tell a running systemd and udev; on a box being prepared offline, there is nothing to tell."""
        if str(self.root) != "/" or not Path("/run/systemd/system").is_dir():
            self.report(False, "systemd is not running here: units start on the next boot")
            return
        if self.changes:
            self._run(["systemctl", "daemon-reload"])
            if self.role.readers:
                subprocess.run(["udevadm", "control", "--reload"], check=False)
                subprocess.run(["udevadm", "trigger", "--subsystem-match=usb"], check=False)
        for unit in self.role.units:
            active = subprocess.run(["systemctl", "is-active", "--quiet", unit]).returncode == 0
            if not active:
                self._run(["systemctl", "start", "--no-block", unit])
                self.report(True, f"{unit} started")
            elif unit in self.changed_units or self.release_changed:
                self._run(["systemctl", "restart", "--no-block", unit])
                self.report(True, f"{unit} restarted")
            else:
                self.report(False, f"{unit} running")

    def run(self) -> int:
        self.out(f"installing the {self.role_name} role into {self.root} "
                 f"({'wheelhouse ' + str(self.wheelhouse) if self.wheelhouse else 'PyPI'})", flush=True)
        self.packages()
        self.users()
        before = len(self.changes)
        version = self.venv()
        self.release_changed = len(self.changes) > before
        self.configuration(self.tls() if self.role_name == "central" else None)
        self.units()
        self.readers()
        self.screen()
        self.activate()
        if self.changes:
            self.out(f"done: version {version}, {len(self.changes)} changes", flush=True)
        else:
            self.out(f"done: version {version}, nothing changed", flush=True)
        return 0


def kiosk_origin(config: dict) -> str:
    """The only origin the kiosk's browser may open."""
    from urllib.parse import urlsplit
    url = config.get("screen", {}).get("url") or ""
    if url:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"
    kiosk = config.get("kiosk", {})
    return f"http://{kiosk.get('host', '127.0.0.1')}:{kiosk.get('port', 8080)}"


def lock_file(source: Path, extras) -> Path:
    """The release's dependencies for these extras, pinned with their hashes (``make lock`` writes them):
    ``requirements/release-readers.txt`` for the kiosk, ``release-postgres-readers.txt`` for the station,
    ``release-postgres.txt`` for the central store."""
    return Path(source) / "requirements" / f"release-{'-'.join(sorted(extras)) or 'base'}.txt"


def find_lock(extras, *, source: Path | None, wheelhouse: Path | None) -> Path:
    """The lock a release is built from: the wheelhouse's own copy (it travels with the wheels it names),
    else the source tree's."""
    name = lock_file(Path("."), extras).name
    candidates = ([wheelhouse / name] if wheelhouse else []) + ([lock_file(source, extras)] if source else [])
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise InstallError(f"no {name} (the release's pinned dependencies, `make lock`) in "
                       f"{' or '.join(str(c.parent) for c in candidates) or 'the source tree'}")


def pins_of(lock_text: str) -> str:
    """The lock without its hashes: the same requirements and versions (environment markers kept)."""
    lines = [line.rstrip().removesuffix("\\").rstrip() for line in lock_text.splitlines()
             if not line.strip().startswith("--hash=")]
    return "\n".join(lines) + "\n"


PINS = ".kiosk-pins.txt"   # in a release built from a wheelhouse: its lock's versions, without the hashes


def pip_commands(release: Path, version: str, extras, *, source: Path | None,
                 wheelhouse: Path | None) -> list[list[str]]:
    """The pip runs that fill a release's virtual environment; pip resolves nothing in either case.

    From PyPI: the lock, hash-checked (``--require-hashes``: every dependency pinned, every file checked
    against the hashes ``make lock`` recorded), then the project from ``source`` with ``--no-deps``.
    From a wheelhouse, offline: the lock's versions (``PINS``, which ``build_release`` writes) and the
    project, both ``--no-deps``; the hashes were checked when the wheelhouse was built from the same lock
    (``pip wheel --require-hashes -r LOCK``, docs/operations.md): the wheels of sdist-only packages built
    there cannot match the hashes of the files on PyPI. Last, ``pip check``: the lock satisfies the project.
    """
    python = str(release / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    check = [python, "-m", "pip", "check", "--disable-pip-version-check"]
    if wheelhouse:
        offline = [*pip, "--no-index", "--find-links", str(wheelhouse), "--no-deps"]
        return [[*offline, "-r", str(release / PINS)], [*offline, f"{PROJECT}=={version}"], check]
    lock = find_lock(extras, source=source, wheelhouse=None)
    return [[*pip, "--require-hashes", "-r", str(lock)], [*pip, "--no-deps", str(source)], check]


def build_release(release: Path, version: str, extras, *, source: Path | None, wheelhouse: Path | None,
                  python: str = "python3", deploy: Path | None = None, report=None) -> bool:
    """Create ``release`` (a virtual environment with the product) unless it is already complete.

    Returns True if it built something. A half-built release (no marker) is removed first.
    """
    report = report or (lambda changed, what: None)
    marker = release / ".kiosk-release.json"
    extras = sorted(extras)
    wanted = {"version": version, "extras": extras}
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        report(False, f"release {version} at {release}")
        return False
    lock = find_lock(extras, source=source, wheelhouse=wheelhouse)    # no lock: nothing is touched
    commands = pip_commands(release, version, extras, source=source, wheelhouse=wheelhouse)
    if release.exists():
        shutil.rmtree(release)
    release.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-m", "venv", str(release)], check=True, capture_output=True)
    if wheelhouse:
        (release / PINS).write_text(pins_of(lock.read_text()))
    for pip in commands:
        result = subprocess.run(pip, capture_output=True, text=True)
        if result.returncode != 0:
            shutil.rmtree(release, ignore_errors=True)
            raise InstallError(f"pip could not install {PROJECT} {version}:\n"
                               f"{result.stdout[-3000:]}{result.stderr[-3000:]}")
    if deploy is not None:
        shutil.copytree(deploy, release / "share" / "kiosk" / "deploy",
                        ignore=shutil.ignore_patterns("__pycache__"))
    marker.write_text(json.dumps(wanted))
    report(True, f"release {version} built at {release} ({'wheelhouse' if wheelhouse else 'PyPI'})")
    return True


def initial_config(role: str, tls: dict[str, str] | None = None) -> str:
    """The first /etc/kiosk/kiosk.toml of a role: only what differs from the defaults (``tls``: the central
    store's ``tls_cert`` and ``tls_key``)."""
    head = (f"# /etc/kiosk/kiosk.toml, written by `kiosk install --role {role}`; never overwritten.\n"
            "# Every setting, with its default and meaning: /etc/kiosk/kiosk.example.toml\n"
            "# Environment variables KIOSK_<TABLE>_<KEY> override this file.\n\n"
            f'data_dir = "{STATE_DIR}"\n')
    if role == "kiosk":
        return head + """
[kiosk]
host = "127.0.0.1"
port = 8080
central_url = "http://127.0.0.1:8082"   # your central store; `kiosk enrol CODE` sets it
device_name = "kiosk-1"

[screen]
compositor = "cage"
rotation = 0

[readers]
service_url = "http://127.0.0.1:8083"
# the readers on this box, e.g. [{type = "pcsc", name = "Card reader", match = "ACR122"}]; see
# kiosk.example.toml for pcsc, nfcpy, serial and evdev (the simulator is for development only:
# whoever can reach it can tap any card)
devices = []
"""
    if role == "station":
        return head + """
[central]
database_url = "postgresql://kiosk@central.example.org:5432/kiosk"   # the central store's database

[provisioning]
host = "0.0.0.0"
port = 8081

[readers]
service_url = "http://127.0.0.1:8083"
# the desk reader, e.g. [{type = "pcsc", name = "Desk reader", match = "ACR122"}] (no simulator)
devices = []
"""
    return head + """
[central]
host = "0.0.0.0"
port = 8082
# a fleet: PostgreSQL (docs/operations.md); one box or a trial: SQLite in the state directory
database_url = "sqlite:////var/lib/kiosk/central.db"
""" + ("" if not tls else f"""# HTTPS (docs/tls.md): kiosks trust {TLS_DIR}/ca.pem ([kiosk] central_ca)
tls_cert = "{tls['tls_cert']}"
tls_key = "{tls['tls_key']}"
""")


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(prog="deploy/install.sh", description=__doc__,
                                               formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", required=True, choices=sorted(ROLES))
    parser.add_argument("--wheelhouse", metavar="DIR", help="install from these wheels, without internet")
    parser.add_argument("--source", metavar="DIR", help="the source tree (default: the one holding deploy/)")
    parser.add_argument("--prefix", default=PREFIX, help=f"where releases go (default {PREFIX})")
    parser.add_argument("--root", default="/", help="install into this root (image building, tests)")
    parser.add_argument("--python", default="python3", help="the interpreter for the virtual environment")
    parser.add_argument("--skip-packages", action="store_true", help="do not run apt-get")
    parser.add_argument("--skip-users", action="store_true", help="do not create users or change owners")
    parser.add_argument("--skip-venv", action="store_true", help="do not build the virtual environment")
    parser.add_argument("--tls-hosts", default="", metavar="NAMES",
                        help="central: the names and addresses kiosks use, comma-separated, for the fleet "
                             "certificate (default: this box's names)")
    parser.add_argument("--tls-cert", default="", metavar="FILE", help="central: the library's own certificate (PEM)")
    parser.add_argument("--tls-key", default="", metavar="FILE", help="central: its private key (PEM)")
    return parser


def run_from_args(args) -> int:
    try:
        return Installer(args.role, root=args.root, prefix=args.prefix, source=args.source,
                         wheelhouse=args.wheelhouse, skip_packages=args.skip_packages,
                         skip_users=args.skip_users, skip_venv=args.skip_venv, python=args.python,
                         tls_hosts=args.tls_hosts, tls_cert=args.tls_cert, tls_key=args.tls_key).run()
    except InstallError as exc:
        print(f"install failed: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    return run_from_args(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
