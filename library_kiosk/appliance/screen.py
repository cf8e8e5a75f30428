"""The kiosk's screen: Chromium full screen, under cage on tty1 (or in a labwc session).

``kiosk screen prepare``  (root, ExecStartPre=+) reads /etc/kiosk/kiosk.toml and writes the
                          non-secret ``[screen]`` settings for the display user
``kiosk screen launch``   (kiosk-browser.service) runs cage with ``kiosk screen session`` inside
``kiosk screen session``  (inside the compositor) rotates the output, then becomes Chromium

If Chromium exits, the session and cage exit with it and systemd starts them again
(Restart=always); under labwc, ``lwrespawn`` does the same.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CAGE = "/usr/bin/cage"
TRANSFORMS = {0: "normal", 90: "90", 180: "180", 270: "270"}
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
    return {"url": screen["url"], "rotation": rotation, "output": screen.get("output", ""),
            "compositor": screen.get("compositor", "cage"),
            "extra_flags": list(screen.get("extra_flags", []))}


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

    screen = screen_settings(settings.load())
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
    os.execv(command[0], command)
    return 1  # not reached


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
