"""``kiosk upgrade``: a new release beside the running one, switched to only when healthy.

    /opt/kiosk/releases/0.1.0/     the running release (a virtual environment)
    /opt/kiosk/releases/0.2.0/     the new one, built beside it
    /opt/kiosk/current -> releases/0.2.0

Steps: build the new release (from a wheelhouse or a source tree; its dependencies only from the
role's lock, ``requirements/release-*.txt``, hash-checked from PyPI: ``install.build_release``), stop the role's
services, migrate the local database with the *new* release, switch ``current``, start the
services, check health (HTTP ``/health``, else ``/``). If the health check fails, switch
``current`` back, start the services again and report the failure.

The state directory (``/var/lib/kiosk``: the kiosk's cache with its queued outbox, keys) is
never copied, moved or deleted: the only thing that touches it is the migration, which only
adds (``CREATE TABLE IF NOT EXISTS``), so the previous release still runs on a migrated
database after a rollback.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from library_kiosk.appliance.install import (
    PREFIX,
    ROLES,
    SERVICE_USER,
    InstallError,
    build_release,
    version_in_wheelhouse,
    version_of_source,
)


class UpgradeError(RuntimeError):
    pass


class Systemd:
    """The role's services, through systemctl."""

    def __init__(self, units):
        self.units = list(units)

    def stop(self) -> None:
        subprocess.run(["systemctl", "stop", *self.units], check=True)

    def start(self) -> None:
        subprocess.run(["systemctl", "reset-failed", *self.units], check=False)
        subprocess.run(["systemctl", "start", *self.units], check=True)


def current_version(prefix: Path) -> str | None:
    link = prefix / "current"
    return os.path.basename(os.readlink(link)) if link.is_symlink() else None


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (its directory entry written to disk)."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def switch(prefix: Path, version: str) -> None:
    """Point ``current`` at ``releases/VERSION`` atomically (rename over the old link), and durably: a power cut
    after the switch boots into the version switched to."""
    temporary = prefix / ".current.new"
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(f"releases/{version}")
    os.replace(temporary, prefix / "current")
    _sync_folder(prefix)


def healthy(url: str, timeout: float = 60.0, interval: float = 0.5) -> bool:
    """True once ``url`` (or the site's ``/``, if it has no /health) answers 200 within ``timeout``."""
    deadline = time.monotonic() + timeout
    candidates = [url]
    if url.endswith("/health"):
        candidates.append(url[: -len("health")])
    while time.monotonic() < deadline:
        for candidate in candidates:
            try:
                with urllib.request.urlopen(candidate, timeout=3) as response:
                    if response.status == 200:
                        return True
            except urllib.error.HTTPError as exc:
                if exc.code != 404:
                    break
            except (urllib.error.URLError, OSError):
                break
        time.sleep(interval)
    return False


def migrate(release: Path, config: str | None = None, role: str = "kiosk") -> None:
    """Run the new release's migrations on the local database (additive only), as the service user."""
    env = dict(os.environ)
    if config:
        env["KIOSK_CONFIG"] = config
    command = [str(release / "bin" / "kiosk"), "migrate", "--role", role]
    if os.geteuid() == 0 and _user_exists(SERVICE_USER):   # files it creates belong to the services
        command = ["setpriv", f"--reuid={SERVICE_USER}", f"--regid={SERVICE_USER}", "--init-groups", *command]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise UpgradeError(f"migration with {release} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def _user_exists(name: str) -> bool:
    import pwd
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def upgrade(*, prefix: str | Path = PREFIX, role: str = "kiosk", wheelhouse: str | None = None,
            source: str | None = None, health_url: str, services=None, config: str | None = None,
            build: Callable[[Path, str], bool] | None = None, health_timeout: float = 60.0,
            out=print) -> int:
    """Upgrade and return 0, or roll back and return 1 (2: nothing could be started)."""
    prefix = Path(prefix)
    if wheelhouse:
        version = version_in_wheelhouse(Path(wheelhouse))
    elif source:
        version = version_of_source(Path(source))
    else:
        raise UpgradeError("say where the new release comes from: --wheelhouse DIR or --source DIR")
    old = current_version(prefix)
    if old == version:
        out(f"version {version} is already running; nothing to do")
        return 0
    services = services or Systemd(ROLES[role].units)
    release = prefix / "releases" / version
    out(f"upgrading {old or '(none)'} -> {version}")
    if build is None:
        from library_kiosk.appliance.install import find_deploy_dir

        deploy = find_deploy_dir(source)

        def build(path: Path, version: str) -> bool:
            return build_release(path, version, ROLES[role].extras, source=Path(source) if source else None,
                                 wheelhouse=Path(wheelhouse) if wheelhouse else None, deploy=deploy,
                                 report=lambda changed, what: out(f"  {what}"))
    build(release, version)
    os.sync()  # the new release on disk before anything points at it: a power cut never leaves a half-written one
    out("  stopping services")
    services.stop()
    try:
        migrate(release, config, role)
        out(f"  database migrated with {version}")
    except UpgradeError as exc:
        out(f"  {exc}\n  staying on {old}")
        services.start()
        return 1
    switch(prefix, version)
    out(f"  current -> releases/{version}; starting services")
    services.start()
    if healthy(health_url, health_timeout):
        out(f"upgraded to {version}: {health_url} is healthy")
        return 0
    out(f"  {health_url} is not healthy on {version}: rolling back to {old}")
    if old is None:
        return 2
    services.stop()
    switch(prefix, old)
    services.start()
    if healthy(health_url, health_timeout):
        out(f"rolled back to {old}; {version} stays in {release} for inspection")
        return 1
    out(f"rolled back to {old}, but it is not healthy either: see `kiosk doctor`")
    return 2


def health_url_from_config(config: dict, role: str) -> str:
    table = {"kiosk": "kiosk", "station": "provisioning", "central": "central"}[role]
    host = config[table]["host"]
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://{host}:{config[table]['port']}/health"


def migrate_command(args) -> int:
    """``kiosk migrate``: bring the local databases up to this release's schema (additive)."""
    from library_kiosk import settings

    config = settings.load()
    if args.role == "kiosk":
        from kiosk.cache import open_cache

        open_cache(config["kiosk"]["cache_url"]).close()
        print(f"kiosk cache migrated: {config['kiosk']['cache_url']}")
    else:
        from library_kiosk.central.store import schema

        schema.init(config["central"]["database_url"])
        print("central store migrated")
    return 0


def run_from_args(args) -> int:
    from library_kiosk import settings

    config = settings.load()
    try:
        return upgrade(prefix=args.prefix, role=args.role, wheelhouse=args.wheelhouse, source=args.source,
                       health_url=args.health_url or health_url_from_config(config, args.role),
                       config=os.environ.get("KIOSK_CONFIG"), health_timeout=args.timeout)
    except (UpgradeError, InstallError, subprocess.CalledProcessError) as exc:
        print(f"upgrade failed: {exc}", file=sys.stderr)
        return 1
