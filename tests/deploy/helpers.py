"""Plain helpers for the deployment tests: where the repository's deployment files are, the cache of
debootstrap's downloads, a tool that must be installed, and waiting for an HTTP server to answer."""
from __future__ import annotations

import os
import shutil
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
