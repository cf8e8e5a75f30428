"""Deployment tests: the real tools (systemd-analyze, udevadm, Chromium, cage, debootstrap).

Debian packages they need (the Makefile's test packages): systemd udev pcscd chromium cage
grim wlr-randr xwayland fonts-dejavu-core tesseract-ocr tesseract-ocr-eng debootstrap.
A missing tool fails the test with the package to install; nothing is skipped.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.helpers import UNITS, need, wait_http
from tests.helpers import free_port


@pytest.fixture(scope="session")
def systemd_root(tmp_path_factory) -> Path:
    """A throw-away root with the Debian packages' own units and our units, binaries stubbed."""
    need("systemd-analyze", "systemd")
    root = tmp_path_factory.mktemp("systemd-root")
    (root / "usr/lib/systemd/system").mkdir(parents=True)
    (root / "lib").symlink_to("usr/lib")
    (root / "etc/systemd/system").mkdir(parents=True)
    listed = subprocess.run(["dpkg", "-L", "systemd", "udev", "pcscd"], capture_output=True, text=True).stdout
    for line in listed.splitlines():
        if line.startswith("/lib/systemd/system/") and (os.path.isfile(line) or os.path.islink(line)):
            target = root / "usr" / line.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(line, target, follow_symlinks=False)
    for unit in UNITS:
        shutil.copy(unit, root / "etc/systemd/system" / unit.name)
    stub = root / "opt/kiosk/current/bin/kiosk"
    stub.parent.mkdir(parents=True)
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    return root


@pytest.fixture(scope="session")
def kiosk_server(tmp_path_factory):
    """The real kiosk web app under gunicorn (``kiosk serve``), on a free port."""
    folder = tmp_path_factory.mktemp("kiosk-served")
    port = free_port()
    config = folder / "kiosk.toml"
    config.write_text(f'data_dir = "{folder}"\n[kiosk]\nport = {port}\ncentral_url = "http://127.0.0.1:9"\n')
    env = dict(os.environ, KIOSK_CONFIG=str(config))
    process = subprocess.Popen([sys.executable, "-m", "library_kiosk", "serve"], env=env, cwd=folder,
                               stdout=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(timeout=15)
