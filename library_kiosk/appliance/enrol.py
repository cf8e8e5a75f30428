"""``kiosk enrol CODE``: exchange a one-time code for this box's device token.

The exchange is the sync engineer's ``kiosk.devices.enrol(central_url, code) -> dict``, which
keeps the token in the credential file (``[kiosk] credential_file``, mode 0600). This command adds
the CLI shape, hands that file to the service user, and writes ``central_url`` into the
configuration file (keeping every other line and comment).
"""
from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

SERVICE_USER = "kiosk"


def _exchange(central_url: str, code: str) -> dict:
    """The sync engineer's exchange: writes the credential file, returns {device, central_url, credential_file}."""
    from kiosk import devices

    return devices.enrol(central_url, code)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def set_values(path: Path, table: str, values: dict[str, str]) -> None:
    """Set ``key = "value"`` lines in ``[table]`` of a TOML file, keeping every other line and comment."""
    lines = path.read_text().splitlines() if path.exists() else []
    start = next((i for i, line in enumerate(lines) if line.strip() == f"[{table}]"), None)
    if start is None:
        lines += ["", f"[{table}]"]
        start = len(lines) - 1
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    for key, value in values.items():
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        line = f"{key} = {_toml_string(value)}"
        found = next((i for i in range(start + 1, end) if pattern.match(lines[i])), None)
        if found is None:
            insert = end
            while insert > start + 1 and not lines[insert - 1].strip():
                insert -= 1
            lines.insert(insert, line)
            end += 1
        else:
            lines[found] = line
    temporary = path.with_name(f".{path.name}.new")
    temporary.write_text("\n".join(lines) + "\n")
    if path.exists():
        stat = path.stat()
        os.chmod(temporary, stat.st_mode & 0o7777)
        try:
            os.chown(temporary, stat.st_uid, stat.st_gid)
        except PermissionError:
            pass
    else:
        os.chmod(temporary, 0o640)
    os.replace(temporary, path)


def enrol(code: str, config_path: str, central_url: str | None = None, exchange=_exchange) -> int:
    import tomllib

    path = Path(config_path)
    config = {}
    if path.exists():
        with open(path, "rb") as handle:
            config = tomllib.load(handle)
    central_url = central_url or config.get("kiosk", {}).get("central_url")
    if not central_url:
        print("enrol: say which central store: --central URL", file=sys.stderr)
        return 2
    from kiosk.central_client import CentralError, CentralUnavailable, CentralUntrusted

    try:
        result = exchange(central_url, code)
    except CentralUntrusted as exc:  # the certificate: nothing was sent, not even the code (docs/tls.md)
        print(f"enrol: {exc}; nothing was written", file=sys.stderr)
        return 1
    except CentralUnavailable as exc:
        print(f"enrol: the central store at {central_url} is not reachable ({exc}); nothing was written",
              file=sys.stderr)
        return 1
    except CentralError as exc:
        print(f"enrol: the central store refused the code ({exc}); nothing was written", file=sys.stderr)
        return 1
    credential = result.get("credential_file")
    if credential and os.geteuid() == 0:            # the services (user kiosk) must read it
        try:
            shutil.chown(credential, SERVICE_USER, SERVICE_USER)
        except (LookupError, OSError):
            pass
    set_values(path, "kiosk", {"central_url": central_url})
    print(f"enrolled as device {result.get('device')} at {central_url}; token in {credential}, "
          f"central_url written to {path}")
    pin = result.get("central_pin") or {}
    if pin:
        print(f"pinned the central store's {'CA' if pin.get('kind') == 'ca' else 'certificate'}: sha256 "
              f"{pin.get('sha256')} (another is refused; docs/tls.md)")
    print("restart the services to use it: systemctl restart kiosk-sync kiosk-web")
    return 0
