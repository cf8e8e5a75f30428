"""Chromium reads the installed managed policy: every key applied, other origins blocked.

Chromium reads policies only from /etc/chromium/policies/managed, which other tests' browsers
share; so the browser runs in its own mount namespace with the policy folder bound over it
(`unshare --mount`, root), through a wrapper that execs /usr/bin/chromium.
"""
from __future__ import annotations

import contextlib
import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from library_kiosk.appliance.install import POLICY_FILE, Installer
from tests.deploy.helpers import need
from tests.helpers import browser_env, free_port

pytestmark = pytest.mark.browser

ROWS_JS = """() => { const rows=[]; const walk = n => { if (n.shadowRoot) walk(n.shadowRoot);
  for (const k of n.children||[]) { if (k.tagName==='POLICY-ROW') rows.push(k); walk(k);} };
  walk(document.documentElement);
  return rows.map(r => { const root = r.shadowRoot || r; const h = root.querySelector('.policy.row');
    if (!h) return null;
    const c = s => (h.querySelector(s)?.textContent || '').trim();
    return {name: c('#name') || c('.name'), value: c('.value'), source: c('.source'), level: c('.level'),
            status: c('.messages')}; }).filter(x => x && x.source); }"""


def installed_policy(tmp_path: Path, kiosk_url: str) -> dict:
    root = tmp_path / "root"
    port = kiosk_url.rstrip("/").rsplit(":", 1)[1]
    (root / "etc/kiosk").mkdir(parents=True)
    (root / "etc/kiosk/kiosk.toml").write_text(f"[kiosk]\nhost = \"127.0.0.1\"\nport = {port}\n")
    Installer("kiosk", root=str(root), skip_users=True, out=lambda *a, **k: None).screen()
    return json.loads((root / POLICY_FILE.lstrip("/")).read_text())


def wrapper(tmp_path: Path, policy: dict) -> str:
    need("chromium", "chromium")
    need("unshare", "util-linux")
    folder = tmp_path / "managed"
    folder.mkdir()
    (folder / "kiosk-lockdown.json").write_text(json.dumps(policy))
    script = tmp_path / "chromium-with-policy"
    script.write_text("#!/bin/sh\nexec unshare --mount --propagation private sh -c "
                      "'mount --bind \"$0\" /etc/chromium/policies/managed && exec /usr/bin/chromium \"$@\"' "
                      f"{folder} \"$@\"\n")
    script.chmod(0o755)
    Path("/etc/chromium/policies/managed").mkdir(parents=True, exist_ok=True)
    return str(script)


def test_every_policy_applied_and_other_origins_blocked(tmp_path, kiosk_server):
    from playwright.sync_api import Error, sync_playwright
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    policy = installed_policy(tmp_path, kiosk_server)
    assert policy["URLAllowlist"] == [kiosk_server.rstrip("/")]
    # DevTools off also blocks the protocol Playwright speaks: probed without it, checked below.
    probe = {k: v for k, v in policy.items() if k not in ("DeveloperToolsAvailability", "RemoteDebuggingAllowed")}
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=wrapper(tmp_path, probe), headless=True,
            args=["--no-sandbox", "--disable-gpu"], timeout=60000, env=browser_env())
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.goto("chrome://policy")
            with contextlib.suppress(PlaywrightTimeout):  # the page fills its rows asynchronously; short: see below
                page.wait_for_function(f"() => ({ROWS_JS})().length >= {len(probe)}", timeout=15000)
            rows = {row["name"]: row for row in page.evaluate(ROWS_JS)}
            problems = {name: rows.get(name) for name in probe
                        if not rows.get(name) or rows[name]["status"] != "OK" or rows[name]["level"] != "Mandatory"}
            assert problems == {}
            assert set(rows) == set(probe)
            page.goto(kiosk_server)
            assert "Tap your card or scan your barcode" in page.inner_text("body")
            for url in ("https://example.com/", "file:///etc/hostname", "http://127.0.0.1:9/"):
                with pytest.raises(Error, match="ERR_BLOCKED_BY_ADMINISTRATOR"):
                    page.goto(url, timeout=10000)
        finally:
            context.close()


def _devtools_answers(executable: str, tmp_path: Path, name: str) -> bool:
    port = free_port()
    process = subprocess.Popen([executable, "--headless=new", "--no-sandbox", "--disable-gpu",
                                f"--remote-debugging-port={port}", f"--user-data-dir={tmp_path / name}",
                                "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=browser_env())
    try:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=1):
                    return True
            except OSError:
                time.sleep(0.3)
        return False
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_developer_tools_and_remote_debugging_are_off(tmp_path, kiosk_server):
    policy = installed_policy(tmp_path, kiosk_server)
    assert policy["DeveloperToolsAvailability"] == 2 and policy["RemoteDebuggingAllowed"] is False
    (tmp_path / "open").mkdir()
    open_browser = wrapper(tmp_path / "open", {})
    assert _devtools_answers(open_browser, tmp_path, "control")        # the probe can see a debugger port
    (tmp_path / "locked").mkdir()
    assert not _devtools_answers(wrapper(tmp_path / "locked", policy), tmp_path, "locked")
