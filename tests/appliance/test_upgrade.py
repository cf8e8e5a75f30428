"""kiosk upgrade: a good release is switched to, a failing one rolled back; the outbox survives both.

Releases here are small folders whose bin/kiosk runs this tree's code (building real virtual
environments is the chroot test's job); the services are the real `kiosk serve` under gunicorn,
started through /opt/kiosk/current/bin/kiosk exactly as the systemd unit does.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from library_kiosk.appliance import upgrade
from tests.deploy.helpers import REPO
from tests.helpers import free_port

GOOD = f'#!/bin/sh\nexec env PYTHONPATH={REPO} {sys.executable} -m library_kiosk "$@"\n'
OLD = "0.0.9"
BAD = (f'#!/bin/sh\n[ "$1" = serve ] && {{ echo "broken release"; exit 3; }}\n'
       f'exec env PYTHONPATH={REPO} {sys.executable} -m library_kiosk "$@"\n')


class Processes:
    """systemd's part: start the role's process from current/bin/kiosk, stop it."""

    def __init__(self, prefix: Path, env: dict):
        self.prefix, self.env, self.process = prefix, env, None
        self.started_from: list[str] = []

    def start(self):
        kiosk = os.path.realpath(self.prefix / "current" / "bin" / "kiosk")
        self.started_from.append(Path(kiosk).parents[1].name)
        self.process = subprocess.Popen([str(self.prefix / "current" / "bin" / "kiosk"), "serve"], env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=15)
            self.process = None


def make_release(prefix: Path, version: str, script: str) -> Path:
    release = prefix / "releases" / version
    (release / "bin").mkdir(parents=True)
    (release / "bin" / "kiosk").write_text(script)
    (release / "bin" / "kiosk").chmod(0o755)
    return release


def outbox_state(path: Path):
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT * FROM outbox_item ORDER BY seq").fetchall()
    return hashlib.sha256(path.read_bytes()).hexdigest(), rows


@pytest.fixture
def box(tmp_path):
    prefix, state = tmp_path / "opt", tmp_path / "state"
    state.mkdir()
    port = free_port()
    config = tmp_path / "kiosk.toml"
    config.write_text(f'data_dir = "{state}"\n[kiosk]\nport = {port}\ncentral_url = "http://127.0.0.1:9"\n')
    env = dict(os.environ, KIOSK_CONFIG=str(config))
    make_release(prefix, OLD, GOOD)
    upgrade.switch(prefix, OLD)
    subprocess.run([str(prefix / "current/bin/kiosk"), "migrate", "--role", "kiosk"], env=env, check=True,
                   capture_output=True)
    cache = state / "kiosk-cache.db"
    with sqlite3.connect(cache) as db:                # the queued outbox, as the kiosk's cache keeps it
        db.execute("CREATE TABLE IF NOT EXISTS outbox_item (seq INTEGER PRIMARY KEY, key TEXT UNIQUE, "
                   "op_type TEXT, payload TEXT, primary_id TEXT, created TEXT, attempts INTEGER, last_error TEXT)")
        db.executemany("INSERT INTO outbox_item (seq, key, op_type, payload, primary_id, created, attempts, "
                       "last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       [(n, f"key-{n}", "renew", f'{{"loan": {n}}}', "P1", "2026-11-25 10:00:00", 0, "")
                        for n in range(1, 26)])
    db.close()
    services = Processes(prefix, env)
    services.start()
    yield prefix, cache, services, f"http://127.0.0.1:{port}/health", str(config)
    services.stop()


def run_upgrade(prefix, services, health, config, script, monkeypatch):
    monkeypatch.setenv("KIOSK_CONFIG", config)
    lines: list[str] = []
    code = upgrade.upgrade(prefix=prefix, role="kiosk", source=str(REPO), health_url=health, services=services,
                           config=config, build=lambda path, version: make_release(prefix, version, script),
                           health_timeout=10, out=lines.append)
    return code, "\n".join(lines)


def test_good_upgrade_switches_and_keeps_the_outbox(box, monkeypatch):
    prefix, cache, services, health, config = box
    before = outbox_state(cache)
    assert len(before[1]) == 25
    version = upgrade.version_of_source(REPO)
    code, output = run_upgrade(prefix, services, health, config, GOOD, monkeypatch)
    assert code == 0, output
    assert upgrade.current_version(prefix) == version
    assert services.started_from == [OLD, version]
    assert upgrade.healthy(health, 5)
    assert outbox_state(cache) == before              # byte- and row-identical


def test_failing_health_check_rolls_back_and_keeps_the_outbox(box, monkeypatch):
    prefix, cache, services, health, config = box
    before = outbox_state(cache)
    code, output = run_upgrade(prefix, services, health, config, BAD, monkeypatch)
    assert code == 1, output
    assert f"rolling back to {OLD}" in output and f"rolled back to {OLD}" in output
    assert upgrade.current_version(prefix) == OLD
    assert services.started_from[-1] == OLD
    assert upgrade.healthy(health, 5)
    assert outbox_state(cache) == before
    assert (prefix / "releases" / upgrade.version_of_source(REPO)).is_dir()   # kept for inspection


def test_migrate_brings_an_older_central_store_up_to_patrons_visits(tmp_path):
    """`kiosk migrate --role central` (the upgrade's migration, with the new release) on a central database from
    before visits: their tables and the device's last_contact column are added; what was there is kept."""
    from playhouse.migrate import SchemaMigrator, migrate

    from library_kiosk.central.store import devices, schema
    from library_kiosk.central.store.visits import DeviceGap, Visit

    url = f"sqlite:///{tmp_path}/central.db"
    db = schema.init(url)
    with db.connection_context():
        devices.enrol(devices.add("kiosk-1"))
        db.drop_tables([Visit, DeviceGap])  # as an older release made it
        migrate(SchemaMigrator.from_database(db).drop_column("device", "last_contact"))
        assert "last_contact" not in {column.name for column in db.get_columns("device")}
    config = tmp_path / "central.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[central]\ndatabase_url = "{url}"\n')
    env = dict(os.environ, KIOSK_CONFIG=str(config), PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "library_kiosk", "migrate", "--role", "central"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "central store migrated" in done.stdout, done.stderr
    with db.connection_context():
        assert {"visit", "device_gap"} <= set(db.get_tables())
        assert "last_contact" in {column.name for column in db.get_columns("device")}
        kept = devices.Device.get()
        assert (kept.name, kept.status, kept.last_contact) == ("kiosk-1", "active", None)


def test_same_version_is_a_no_op(tmp_path):
    prefix = tmp_path / "opt"
    version = upgrade.version_of_source(REPO)
    make_release(prefix, version, GOOD)
    upgrade.switch(prefix, version)
    lines = []
    assert upgrade.upgrade(prefix=prefix, source=str(REPO), health_url="http://127.0.0.1:9/health",
                           services=object(), out=lines.append) == 0
    assert "nothing to do" in lines[0]


class Stop(Exception):
    """Raised by the services when the upgrade first stops them: the build is over by then."""


class StopAtStop:
    def stop(self):
        raise Stop

    def start(self):
        raise AssertionError("nothing may start")


def test_the_upgrade_builds_the_release_from_the_lock_with_require_hashes(tmp_path, monkeypatch):
    """`kiosk upgrade --source DIR`: the role's lock, hash-checked, then the project alone (no resolving)."""
    from library_kiosk.appliance import install

    ran: list[list[str]] = []

    def record(command, **kwargs):
        ran.append([str(part) for part in command])
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(install.subprocess, "run", record)
    with pytest.raises(Stop):
        upgrade.upgrade(prefix=tmp_path / "opt", role="kiosk", source=str(REPO),
                        health_url="http://127.0.0.1:9/health", services=StopAtStop(), out=lambda line: None)
    lock = install.lock_file(REPO, install.ROLES["kiosk"].extras)
    pips = [command for command in ran if command[1:4] == ["-m", "pip", "install"]]
    assert len(pips) == 2, ran
    assert "--require-hashes" in pips[0] and pips[0][-2:] == ["-r", str(lock)]
    assert "--no-deps" in pips[1] and pips[1][-1] == str(REPO)
    assert any(command[1:4] == ["-m", "pip", "check"] for command in ran)


def test_an_upgrade_from_a_source_without_its_lock_touches_nothing(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "pyproject.toml").write_text('[project]\nname = "library-kiosk"\nversion = "9.9.9"\n')
    prefix = tmp_path / "opt"
    make_release(prefix, OLD, GOOD)
    upgrade.switch(prefix, OLD)
    with pytest.raises(upgrade.InstallError, match="make lock"):
        upgrade.upgrade(prefix=prefix, role="kiosk", source=str(source), health_url="http://127.0.0.1:9/health",
                        services=StopAtStop(), out=lambda line: None)
    assert upgrade.current_version(prefix) == OLD and not (prefix / "releases" / "9.9.9").exists()
