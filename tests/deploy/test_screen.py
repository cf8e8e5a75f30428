"""The browser unit's command under cage (headless wlroots): the kiosk's attract screen shows."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from library_kiosk.appliance.screen import chromium_command, screen_settings, stop
from tests.deploy.helpers import REPO, need
from tests.helpers import browser_env

pytestmark = pytest.mark.browser


NOBODY = 65534


def as_nobody(*command: str) -> list[str]:
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]


def ocr(png: Path) -> str:
    """Text on the screen: the browser's window cut out of the black output, enlarged, read by tesseract."""
    from PIL import Image

    image = Image.open(png).convert("RGB")
    box = image.getbbox()  # the non-black part: the browser window
    if box:
        image = image.crop(box)
    image = image.resize((image.width * 3, image.height * 3))
    enlarged = png.with_name("ocr.png")
    image.save(enlarged)
    return subprocess.run(["tesseract", str(enlarged), "-"], capture_output=True, text=True).stdout


def test_chromium_command_is_a_locked_kiosk():
    screen = screen_settings({"kiosk": {"host": "127.0.0.1", "port": 8080}, "screen": {"rotation": 90}})
    command = chromium_command(screen, "/run/kiosk-browser/profile")
    assert command[0] == "/usr/bin/chromium" and command[-1] == "http://127.0.0.1:8080/"
    for flag in ("--kiosk", "--ozone-platform=wayland", "--noerrdialogs", "--no-first-run",
                 "--user-data-dir=/run/kiosk-browser/profile", "--disable-features=TranslateUI"):
        assert flag in command
    assert screen["rotation"] == 90
    with pytest.raises(ValueError):
        screen_settings({"kiosk": {"host": "h", "port": 1}, "screen": {"rotation": 45}})


def cage_session(url: str, **screen) -> tuple[Path, Path, dict]:
    """A work folder, screen settings for ``url`` and the environment to run the browser unit's command (as the
    unprivileged user, on a headless wlroots backend): (work, settings file, environment)."""
    for tool, package in (("cage", "cage"), ("grim", "grim"), ("tesseract", "tesseract-ocr"),
                          ("chromium", "chromium"), ("setpriv", "util-linux")):
        need(tool, package)
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="cage-", dir="/tmp"))   # Wayland socket paths must stay short
    (work / "xdg").mkdir(parents=True)
    (work / "xdg").chmod(0o700)
    settings = work / "xdg" / "screen.json"  # as the unit has it: in the runtime directory launch gives cage
    settings.write_text(json.dumps({"url": url, "rotation": 0, "output": "", "compositor": "cage",
                                    "extra_flags": ["--no-sandbox", "--disable-gpu", "--window-size=1280,720",
                                                    "--window-position=0,0"], **screen}))
    # The unprivileged user may not be able to read the checkout (a clone in a 0700 folder), so it
    # runs a copy of the standard-library-only appliance package from the work folder.
    shutil.copytree(REPO / "library_kiosk" / "appliance", work / "lib" / "library_kiosk" / "appliance",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "library_kiosk" / "__init__.py", work / "lib" / "library_kiosk" / "__init__.py")
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(work)], check=True)
    env = dict(browser_env(), XDG_RUNTIME_DIR=str(work / "xdg"), HOME=str(work),
               KIOSK_BROWSER_PROFILE=str(work / "profile"), PYTHONPATH=str(work / "lib"), PYTHONDONTWRITEBYTECODE="1",
               WLR_BACKENDS="headless", WLR_RENDERER="pixman", WLR_LIBINPUT_NO_DEVICES="1", WLR_HEADLESS_OUTPUTS="1",
               )
    env.pop("WAYLAND_DISPLAY", None)
    env.pop("DISPLAY", None)
    return work, settings, env


def launch_command(settings: Path) -> list[str]:
    """What kiosk-browser.service runs (`kiosk screen launch` -> appliance.screen.launch), as an unprivileged user.
    This machine's venv Python lives under /root (mode 0700), so the unprivileged user runs the same function with
    Debian's python3."""
    return as_nobody("/usr/bin/python3", "-m", "library_kiosk.appliance.screen", "launch", "--settings", str(settings))


@pytest.mark.slow  # cage, Chromium and OCR until the attract screen shows: about two minutes
def test_browser_unit_command_under_cage_shows_the_attract_screen(tmp_path, kiosk_server):
    work, settings, env = cage_session(kiosk_server)
    # KNOWN LIMIT of this test backend (wlroots 0.15 headless + pixman): cage logs "Basic output test
    # failed", keeps Chromium in a 532x128 window, and now and then stops sending frame callbacks so
    # the page stays blank; the test starts the unit's command afresh up to five times, as
    # Restart=always would, and accepts any line of the attract page that is on screen. Each attempt waits
    # 45 s: on a loaded 2-core machine Chromium's first frame came 15-25 s after the start, so a 25 s window
    # often closed before the page could show.
    # "Main Library" (the top bar) and "High contrast" (the toolbar) are on every kiosk page, as they were
    # before; since the screens fill the viewport (issue 15), a 532x128 window shows the toolbar, whose label
    # OCR reads where it often misses the small white-on-blue top bar.
    # The toolbar's language buttons too: in the 532 px window "High contrast" is cut at its edge ("High co"), and
    # "Main Library" (small white on blue) is the line OCR most often misses (a full run failed on it five times).
    attract = ("Tap your card", "Card number or barcode", "Main Library", "High contrast", "English", "Français")
    text, shot = "", None
    try:
        for attempt in range(5):
            text, shot = run_screen(env, settings, work, tmp_path / f"cage-{attempt}.log", attract, seconds=45)
            if any(a in text for a in attract):
                break
        assert any(a in " ".join(text.split()) for a in attract), text
        (Path(os.environ.get("KIOSK_SCREENSHOT_DIR", tmp_path)) / "kiosk-attract.png").write_bytes(shot)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_screen(env, settings, work, log_path, attract, seconds):
    """Start the browser unit's command; OCR the screen every 2 s until the attract page shows."""
    with open(log_path, "wb") as log:
        launch = subprocess.Popen(launch_command(settings), env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=log)
    text, picture = "", None
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not any(a in text for a in attract):
            time.sleep(2)
            if launch.poll() is not None:   # cage or Chromium gave up: this attempt ends, as Restart=always would
                return log_path.read_text(errors="replace")[-3000:], picture
            sockets = sorted((work / "xdg").glob("wayland-?"))
            if not sockets:
                continue
            grab = subprocess.run(as_nobody("grim", "-"), env=dict(env, WAYLAND_DISPLAY=sockets[0].name),
                                  capture_output=True)
            if grab.returncode != 0:
                continue
            shot = work / "screen.png"
            shot.write_bytes(grab.stdout)
            picture = grab.stdout
            text = ocr(shot)
        return text, picture
    finally:
        stop(launch, grace=15)
        for leftover in (work / "xdg").glob("wayland-*"):
            leftover.unlink(missing_ok=True)


@pytest.mark.slow  # cage and Chromium until the session gives up on the page: about a minute
def test_a_page_the_kiosk_never_hears_from_gets_the_browser_restarted(tmp_path, kiosk_server):
    """Chromium showing a page without the kiosk's script (here the kiosk's /health: as its own error page would be)
    is stopped by the session once the kiosk has not heard from a page for page_silent_seconds, and cage exits
    with it, so systemd's Restart=always starts the unit afresh (library_kiosk/appliance/screen.py)."""
    work, settings, env = cage_session(kiosk_server.rstrip("/") + "/health", page_silent_seconds=20)
    log_path = tmp_path / "cage.log"
    try:
        with open(log_path, "wb") as log:
            launch = subprocess.Popen(launch_command(settings), env=env, cwd=work, stdout=subprocess.DEVNULL,
                                      stderr=log)
        try:
            launch.wait(timeout=180)  # 20 s of silence, then the session's next check (every 15 s)
        finally:
            if launch.poll() is None:
                launch.kill()
                launch.wait()
        assert "restarting the browser" in log_path.read_text(errors="replace"), log_path.read_text()[-3000:]
    finally:
        shutil.rmtree(work, ignore_errors=True)
