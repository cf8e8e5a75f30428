"""The central store's install sets up TLS (docs/tls.md): a fleet CA and certificate when the library brings none,
the library's own certificate when it does, and the first kiosk.toml naming them; enrolment says what it pinned."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from library_kiosk import settings
from library_kiosk.appliance import enrol
from library_kiosk.appliance.install import Installer
from library_kiosk.web import tls


def install(root, **options):
    lines = []
    Installer("central", root=str(root), skip_packages=True, skip_users=True, skip_venv=True,
              out=lambda line, **_: lines.append(line), **options).run()
    return lines


def _in_root(root, path):
    return str(root / path.lstrip("/"))


def test_central_install_makes_a_fleet_ca_and_names_the_certificate_in_the_config(tmp_path):
    lines = install(tmp_path, tls_hosts="central.library.local,10.0.0.5")
    folder = tmp_path / "etc/kiosk/tls"
    assert {path.name for path in folder.iterdir()} == {"ca.pem", "ca.key", "central.pem", "central.key"}
    for key in ("ca.key", "central.key"):
        assert stat.S_IMODE(os.stat(folder / key).st_mode) == 0o600
    assert any(line.startswith("changed") and "fleet CA /etc/kiosk/tls/ca.pem" in line for line in lines)
    config = settings.load(tmp_path / "etc/kiosk/kiosk.toml", environ={})
    assert config["central"]["tls_cert"] == "/etc/kiosk/tls/central.pem"
    assert config["central"]["tls_key"] == "/etc/kiosk/tls/central.key"
    tls.check_files(_in_root(tmp_path, config["central"]["tls_cert"]), _in_root(tmp_path, config["central"]["tls_key"]),
                    "central")
    authority = tls.file_fingerprint(folder / "ca.pem")
    again = install(tmp_path)
    assert again[-1].endswith("nothing changed") and tls.file_fingerprint(folder / "ca.pem") == authority


def test_central_install_uses_the_librarys_own_certificate(tmp_path):
    own = tls.init(tmp_path / "library", "central.library.ac.uk")
    root = tmp_path / "root"
    install(root, tls_cert=own["cert"], tls_key=own["key"])
    folder = root / "etc/kiosk/tls"
    assert (folder / "central.pem").read_bytes() == Path(own["cert"]).read_bytes()
    assert stat.S_IMODE(os.stat(folder / "central.key").st_mode) == 0o600
    assert not (folder / "ca.pem").exists()  # no fleet CA was made
    config = settings.load(root / "etc/kiosk/kiosk.toml", environ={})
    assert config["central"]["tls_cert"] == "/etc/kiosk/tls/central.pem"


def test_central_install_keeps_a_certificate_the_configuration_names(tmp_path):
    config = tmp_path / "etc/kiosk/kiosk.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[central]\ntls_cert = "/srv/certs/central.pem"\ntls_key = "/srv/certs/central.key"\n')
    lines = install(tmp_path)
    assert any("[central] tls_cert /srv/certs/central.pem kept as configured" in line for line in lines)
    assert not (tmp_path / "etc/kiosk/tls").exists()


def test_enrol_says_what_it_pinned(tmp_path, capsys):
    def exchange(url, code):
        return {"device": "kiosk-7", "central_url": url, "credential_file": str(tmp_path / "device.json"),
                "central_pin": {"kind": "ca", "sha256": "ab" * 32}}

    assert enrol.enrol("CODE", str(tmp_path / "kiosk.toml"), "https://central.library.local:8082", exchange) == 0
    assert f"pinned the central store's CA: sha256 {'ab' * 32}" in capsys.readouterr().out
