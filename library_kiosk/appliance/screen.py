"""The kiosk's screen: Chromium full screen, under cage on tty1 (or in a labwc session).

``kiosk screen prepare``  (root, ExecStartPre=+) reads /etc/kiosk/kiosk.toml and writes the
                          non-secret ``[screen]`` settings for the display user
``kiosk screen launch``   (kiosk-browser.service) runs cage with ``kiosk screen session`` inside
``kiosk screen session``  (inside the compositor) rotates the output, then becomes Chromium

If Chromium exits, the session and cage exit with it and systemd starts them again
(Restart=always); under labwc, ``lwrespawn`` does the same.

The session watches the page (``supervise``): the kiosk's page posts ``/screen/seen`` every 20 s
(kiosk/screen_seen.py). When the kiosk answers that it has not heard from the page for
``[screen] page_silent_seconds`` (and Chromium has run that long), the session stops Chromium and
exits, so the whole unit starts afresh: Chromium's own error page (the web app was away when it
loaded), a crashed or hung renderer. 0 turns the watch off (Chromium then replaces the session).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urljoin

CHROMIUM = "/usr/bin/chromium"
CAGE = "/usr/bin/cage"
TRANSFORMS = {0: "normal", 90: "90", 180: "180", 270: "270"}
PAGE_SILENT_SECONDS = 180.0  # [screen] page_silent_seconds by default
MIN_PAGE_SILENT_SECONDS = 60.0  # three of the page's pings (kiosk/screen_seen.py PING_SECONDS)
CHECK_SECONDS = 15.0  # how often the session asks the kiosk when it last heard from the page
RESTART_EXIT = 75  # the session's exit status when it stopped a silent browser (EX_TEMPFAIL)
KIOSK_FLAGS = (
    "--kiosk", "--noerrdialogs", "--disable-session-crashed-bubble", "--disable-pinch",
    "--overscroll-history-navigation=0", "--no-first-run", "--no-default-browser-check",
    "--disable-component-update", "--disable-features=TranslateUI", "--disable-translate",
    "--check-for-update-interval=31536000", "--password-store=basic", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
)


def screen_settings(config: dict) -> dict:
    """The ``[screen]`` settings with the URL filled in; nothing secret."""
    screen = dict(config.get("screen", {}))
    if not screen.get("url"):
        kiosk = config["kiosk"]
        screen["url"] = f"http://{kiosk['host']}:{kiosk['port']}/"
    rotation = int(screen.get("rotation", 0))
    if rotation not in TRANSFORMS:
        raise ValueError(f"[screen] rotation must be 0, 90, 180 or 270, not {rotation}")
    silent = float(screen.get("page_silent_seconds", PAGE_SILENT_SECONDS))
    if silent and silent < MIN_PAGE_SILENT_SECONDS:
        raise ValueError(f"[screen] page_silent_seconds must be 0 (off) or at least {MIN_PAGE_SILENT_SECONDS:g}, "
                         f"not {silent:g}: the page says it is alive every 20 s")
    return {"url": screen["url"], "rotation": rotation, "output": screen.get("output", ""),
            "compositor": screen.get("compositor", "cage"),
            "extra_flags": list(screen.get("extra_flags", [])), "page_silent_seconds": silent}


def chromium_command(screen: dict, profile: str, chromium: str = CHROMIUM) -> list[str]:
    """Chromium in kiosk mode on Wayland with a fresh profile in ``profile``."""
    return [chromium, "--ozone-platform=wayland", *KIOSK_FLAGS, f"--user-data-dir={profile}",
            *screen.get("extra_flags", []), screen["url"]]


def cage_command(settings_file: str, python: str | None = None) -> list[str]:
    """cage (-d: no client decorations) running the session on the kiosk's output."""
    return [CAGE, "-d", "--", python or sys.executable, "-m", "library_kiosk.appliance.screen", "session",
            "--settings", settings_file]


def prepare(output: str, owner: str | None = None) -> int:
    from library_kiosk import settings

    try:
        screen = screen_settings(settings.load())
    except ValueError as problem:  # a setting out of range: said plainly in the unit's journal, no traceback
        print(f"kiosk screen prepare: {problem} (in /etc/kiosk/kiosk.toml; every setting: kiosk.example.toml)",
              file=sys.stderr)
        return 2
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(screen))
    if owner:
        shutil.chown(path, owner, owner)
    path.chmod(0o600)
    print(f"screen settings for {screen['url']} written to {path}")
    return 0


def launch(settings_file: str) -> int:
    """Replace this process with cage; the unit's Restart=always brings it back. Cage makes its Wayland socket in
    ``XDG_RUNTIME_DIR``, set here to the settings file's folder (kiosk-browser.service's RuntimeDirectory, the
    display user's own): the session's /run/user/UID that PAM names is hidden by the unit's ProtectHome=yes."""
    os.environ["XDG_RUNTIME_DIR"] = str(Path(settings_file).resolve().parent)
    command = cage_command(settings_file)
    os.execv(command[0], command)
    return 1  # not reached


def _outputs() -> list[str]:
    result = subprocess.run(["wlr-randr"], capture_output=True, text=True, check=False)
    return [line.split()[0] for line in result.stdout.splitlines() if line and not line[0].isspace()]


def session(settings_file: str | None = None) -> int:
    """Inside the compositor: rotate, then become Chromium with a fresh profile."""
    if settings_file:
        screen = json.loads(Path(settings_file).read_text())
    else:                                           # labwc autostart: read the configuration
        from library_kiosk import settings

        screen = screen_settings(settings.load())
    if screen["rotation"]:
        for output in ([screen["output"]] if screen["output"] else _outputs()):
            subprocess.run(["wlr-randr", "--output", output, "--transform", TRANSFORMS[screen["rotation"]]],
                           check=False)
    profile = Path(os.environ.get("KIOSK_BROWSER_PROFILE")
                   or Path(os.environ.get("XDG_RUNTIME_DIR") or os.environ["HOME"]) / "kiosk-browser-profile")
    shutil.rmtree(profile, ignore_errors=True)     # fresh each start, even under labwc
    try:
        profile.mkdir(mode=0o700, parents=True)
    except FileExistsError:  # the last browser still writing into it: never reuse it, take a fresh one beside it
        import tempfile

        profile = Path(tempfile.mkdtemp(prefix=profile.name + "-", dir=profile.parent))
    command = chromium_command(screen, str(profile))
    limit = float(screen.get("page_silent_seconds", PAGE_SILENT_SECONDS))
    if not limit:
        os.execv(command[0], command)
    return supervise(command, seen_url(screen["url"]), limit)


def seen_url(page_url: str) -> str:
    """Where the kiosk says when it last heard from its page: ``/screen/seen`` beside the page's URL."""
    return urljoin(page_url, "/screen/seen")


def page_silence(url: str, timeout: float = 5.0, context=None) -> float | None:
    """Seconds since the kiosk last heard from its page, or None when the kiosk does not answer (the web app is
    away: its own watchdog deals with that, and the page's silence is counted again from its start)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as answer:
            return float(json.load(answer)["silent_seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def restart_due(silence: float | None, browser_seconds: float, limit: float) -> bool:
    """Whether to restart a browser that has run ``browser_seconds`` when the kiosk reports ``silence``."""
    return silence is not None and silence > limit and browser_seconds > limit


def supervise(command: list[str], url: str, limit: float, check_seconds: float = CHECK_SECONDS,
              clock=time.monotonic) -> int:
    """Run Chromium (``command``) until it exits, or until the page has been silent for ``limit`` seconds: then
    stop it (SIGTERM, SIGKILL after 10 s) and return ``RESTART_EXIT``, so cage and the unit start afresh."""
    browser = subprocess.Popen(command)
    started = clock()
    while True:
        try:
            return browser.wait(timeout=check_seconds)
        except subprocess.TimeoutExpired:
            pass
        silence = page_silence(url)
        if restart_due(silence, clock() - started, limit):
            print(f"kiosk screen: the kiosk has not heard from its page for {silence:.0f} s (limit {limit:.0f} s, "
                  f"[screen] page_silent_seconds): restarting the browser", file=sys.stderr, flush=True)
            stop(browser)
            return RESTART_EXIT


def stop(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if ``process`` has not exited within ``grace`` seconds; returns once it has."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main(argv: list[str] | None = None) -> int:
    """``python -m appliance.screen launch|session --settings FILE``: standard library only, so the
    session inside the compositor starts fast (and tests can run it with the system's python3)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m appliance.screen")
    parser.add_argument("action", choices=["launch", "session"])
    parser.add_argument("--settings")
    args = parser.parse_args(argv)
    if args.action == "launch":
        return launch(args.settings)
    return session(args.settings)


if __name__ == "__main__":
    sys.exit(main())
