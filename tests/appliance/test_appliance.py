"""The appliance's Python side: install into a folder, the example configuration, doctor, heartbeat, enrol."""
from __future__ import annotations

import json
import os
import sqlite3
import tomllib

import pytest

from kiosk import heartbeat
from library_kiosk import settings
from library_kiosk.appliance import doctor, enrol, example_config
from library_kiosk.appliance.install import POLICY_FILE, ROLES, Installer, initial_config
from tests.deploy.helpers import REPO


def install(root, role="kiosk"):
    lines = []
    Installer(role, root=str(root), skip_packages=True, skip_users=True, skip_venv=True,
              out=lambda line, **_: lines.append(line)).run()
    return lines


@pytest.mark.parametrize("role", sorted(ROLES))
def test_install_into_a_folder_is_idempotent(tmp_path, role):
    first = install(tmp_path, role)
    assert first[-1].endswith("changes") and any(line.startswith("changed") for line in first)
    for unit in ROLES[role].units:
        assert (tmp_path / "etc/systemd/system" / unit).read_bytes() == (REPO / "deploy/systemd" / unit).read_bytes()
    second = install(tmp_path, role)
    assert second[-1].endswith("nothing changed")
    assert not any(line.startswith("changed") for line in second)


def test_install_keeps_an_edited_configuration_and_follows_it(tmp_path):
    install(tmp_path)
    config = tmp_path / "etc/kiosk/kiosk.toml"
    config.write_text(config.read_text().replace("port = 8080", "port = 8099"))
    lines = install(tmp_path)
    assert "port = 8099" in config.read_text()
    policy = json.loads((tmp_path / POLICY_FILE.lstrip("/")).read_text())
    assert policy["URLAllowlist"] == ["http://127.0.0.1:8099"]
    assert any("only http://127.0.0.1:8099 allowed" in line and line.startswith("changed") for line in lines)
    assert (tmp_path / "etc/modprobe.d/kiosk-nfc-blacklist.conf").exists()   # minbase lacks /etc/modprobe.d


@pytest.mark.parametrize("role", sorted(ROLES))
def test_initial_configuration_loads(tmp_path, role):
    path = tmp_path / "kiosk.toml"
    path.write_text(initial_config(role))
    config = settings.load(path, environ={})
    assert config["data_dir"] == "/var/lib/kiosk"


def test_example_configuration_is_up_to_date_and_names_every_setting():
    text = (REPO / "deploy/kiosk.example.toml").read_text()
    assert text == example_config.render(), "run: python -m appliance.example_config > deploy/kiosk.example.toml"
    active = "\n".join(line[2:] for line in text.splitlines()
                       if line.startswith("# [") or (line.startswith("# ") and " = " in line.split("#")[1]
                                                     and line[2:3].isalpha() and line[2:].split(" ")[1] == "="))
    parsed = tomllib.loads(active)
    for key, value in settings.DEFAULTS.items():
        assert key in parsed
        if isinstance(value, dict):
            assert set(parsed[key]) == set(value), key


def test_doctor_finds_a_corrupt_cache_and_says_how_to_fix_it(tmp_path):
    good = tmp_path / "good.db"
    with sqlite3.connect(good) as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    assert doctor.check_database(f"sqlite:///{good}").status == "PASS"
    bad = tmp_path / "bad.db"
    bad.write_bytes(good.read_bytes()[:100] + b"\0garbage" * 500)
    check = doctor.check_database(f"sqlite:///{bad}")
    assert check.status == "FAIL" and "kiosk sync once" in check.fix


def test_doctor_policy_readers_and_disk(tmp_path):
    config = settings.load(environ={})
    install(tmp_path)
    assert doctor.check_policy(config, root=str(tmp_path)).status == "PASS"
    policy = tmp_path / POLICY_FILE.lstrip("/")
    policy.write_text(policy.read_text().replace('"DeveloperToolsAvailability": 2', '"DeveloperToolsAvailability": 0'))
    check = doctor.check_policy(config, root=str(tmp_path))
    assert check.status == "FAIL" and "DeveloperToolsAvailability" in check.finding
    # a fake sysfs with an RC-S380 whose device node belongs to root: not permitted
    device = tmp_path / "sys/bus/usb/devices/1-1"
    device.mkdir(parents=True)
    for name, value in {"idVendor": "054c", "idProduct": "06c1", "busnum": "1", "devnum": "4"}.items():
        (device / name).write_text(value + "\n")
    node = tmp_path / "dev/bus/usb/001/004"
    node.parent.mkdir(parents=True)
    node.write_text("")
    modules = tmp_path / "modules"
    modules.write_text("port100 20480 0 - Live 0x0\n")
    checks = {c.name: c for c in doctor.check_readers(config, sys_root=str(tmp_path / "sys"),
                                                        proc_modules=str(modules), root=str(tmp_path))}
    assert checks["reader permitted"].status == "FAIL" and "udevadm" in checks["reader permitted"].fix
    assert checks["reader drivers"].status == "FAIL" and "modprobe -r port100" in checks["reader drivers"].fix
    assert checks["reader service"].status == "FAIL"
    assert doctor.check_disk(str(tmp_path)).status == "PASS"
    assert doctor.check_disk(str(tmp_path), minimum=1 << 60).status == "FAIL"
    assert "FAIL" in doctor.render(list(checks.values()))


def test_heartbeat_collects_version_uptime_readers_and_outbox(tmp_path):
    cache = tmp_path / "kiosk-cache.db"
    with sqlite3.connect(cache) as db:
        db.execute("CREATE TABLE outbox_item (seq INTEGER PRIMARY KEY)")
        db.executemany("INSERT INTO outbox_item VALUES (?)", [(1,), (2,), (3,)])
    db.close()
    config = settings.load(environ={}, overrides={"kiosk": {"cache_url": f"sqlite:///{cache}"},
                                                  "readers": {"service_url": "http://127.0.0.1:9"}})
    heartbeat.note_error("printer out of paper")
    beat = heartbeat.collect(config)
    assert beat["version"] and beat["uptime_seconds"] > 0 and beat["outbox_length"] == 3
    assert beat["readers"] is None
    messages = [e["message"] for e in beat["errors"]]
    assert "printer out of paper" in messages and any("reader service" in m for m in messages)
    json.dumps(beat)


def test_enrol_writes_central_url_and_keeps_the_rest(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text('# my box\ndata_dir = "/var/lib/kiosk"\n\n[kiosk]\nport = 8080  # here\n\n[readers]\nx = 1\n')
    calls = []

    def exchange(url, code):
        calls.append((url, code))
        return {"device": "kiosk-7", "central_url": url, "credential_file": str(tmp_path / "device.json")}

    assert enrol.enrol("ABCD-1234", str(path), "https://central.example.org", exchange=exchange) == 0
    assert calls == [("https://central.example.org", "ABCD-1234")]
    text = path.read_text()
    assert "# my box" in text and "port = 8080  # here" in text
    data = tomllib.loads(text)
    assert data["kiosk"]["central_url"] == "https://central.example.org" and data["readers"] == {"x": 1}


def test_the_browser_never_reuses_a_profile_it_could_not_clear(tmp_path, monkeypatch):
    """A profile left that cannot be removed (here a file where the folder goes; on a box, the last browser still
    writing into it): the browser starts on a fresh profile beside it, never on the old one."""
    import json

    from library_kiosk.appliance import screen

    stale = tmp_path / "kiosk-browser-profile"
    stale.write_text("the last patron's session")
    settings_file = tmp_path / "screen.json"
    settings_file.write_text(json.dumps({"rotation": 0, "output": "", "url": "http://127.0.0.1:8080/",
                                         "extra_flags": []}))
    started = []
    monkeypatch.setenv("KIOSK_BROWSER_PROFILE", str(stale))
    monkeypatch.setattr(screen, "supervise", lambda command, url, limit: started.append(command) or 0)
    screen.session(str(settings_file))
    profile = next(a for a in started[0] if a.startswith("--user-data-dir=")).split("=", 1)[1]
    assert profile != str(stale) and profile.startswith(str(stale) + "-")
    assert (tmp_path / profile).is_dir() and not any((tmp_path / profile).iterdir())
    assert stale.read_text() == "the last patron's session"  # untouched, and not used


def test_launch_gives_cage_the_units_runtime_directory(tmp_path, monkeypatch):
    """cage makes its Wayland socket in XDG_RUNTIME_DIR: kiosk-browser.service's runtime directory (where the
    settings file is), never the session's /run/user/UID that PAM names and ProtectHome=yes hides (tests/vm found a
    black screen)."""
    from library_kiosk.appliance import screen

    settings_file = tmp_path / "screen.json"
    settings_file.write_text("{}")
    started = []
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/999")
    monkeypatch.setattr(screen.os, "execv", lambda path, argv: started.append((path, os.environ["XDG_RUNTIME_DIR"])))
    screen.launch(str(settings_file))
    assert started == [(screen.cage_command(str(settings_file))[0], str(tmp_path))]
