#!/bin/sh
# Install a library kiosk box by role, on Raspberry Pi OS / Debian bookworm (arm64, amd64).
#
#   sudo deploy/install.sh --role kiosk|station|central [--wheelhouse DIR] [--skip-packages] ...
#
# The same logic as `kiosk install --role ...` (appliance/install.py, standard library only),
# run with the system's python3 from this source tree. Idempotent: run it again and it
# changes nothing; every step prints "changed:" or "ok:". `--help` lists every option.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
SOURCE=$(dirname "$HERE")
if [ "$(id -u)" != 0 ]; then
    echo "install.sh: run as root (sudo $0 $*)" >&2
    exit 1
fi
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "install.sh: installing python3 and python3-venv first"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv
fi
exec env PYTHONPATH="$SOURCE" PYTHONDONTWRITEBYTECODE=1 python3 -m library_kiosk.appliance.install --source "$SOURCE" "$@"
