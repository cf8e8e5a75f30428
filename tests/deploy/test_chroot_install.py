"""deploy/install.sh in a fresh Debian bookworm chroot, for each role, twice.

The chroot is ``debootstrap --variant=minbase`` (plus python3-venv, systemd, udev, pcscd),
made once and cached as a tarball under /var/cache/kiosk-deploy-tests. The wheelhouse (every
dependency, built once per lock and cached there too, plus this tree's wheel, built once per
session) stands in for a site without internet. It is built as docs/operations.md says a site's
is: from the release's lock, hash-checked (``pip wheel --require-hashes -r requirements/...``).
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from library_kiosk.appliance.install import ROLES, lock_file
from tests.deploy.helpers import REPO, bookworm_tarball, fill_wheelhouse, need


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """Every dependency (cached), each role's lock and this tree's wheel (tests/deploy/helpers.py)."""
    return fill_wheelhouse(tmp_path_factory.mktemp("wheelhouse"), tmp_path_factory.mktemp("wheel-build"))


INSIDE = r"""
set -eu
export LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
snapshot() { find /etc/kiosk /etc/systemd/system /etc/udev/rules.d /etc/modprobe.d /etc/chromium /opt/kiosk \
    -path '*/__pycache__' -prune -o \( -type f -o -type l \) -printf '%p %m %u %g %l\n' 2>/dev/null | sort; }
/src/deploy/install.sh --role $ROLE --wheelhouse /wh $SKIP > /tmp/first.log 2>&1 || { cat /tmp/first.log; exit 10; }
snapshot > /tmp/before
/src/deploy/install.sh --role $ROLE --wheelhouse /wh $SKIP > /tmp/second.log 2>&1 || { cat /tmp/second.log; exit 11; }
snapshot > /tmp/after
grep -q 'nothing changed' /tmp/second.log || { echo "SECOND RUN CHANGED"; cat /tmp/second.log; exit 12; }
grep -q '^changed' /tmp/second.log && { echo "SECOND RUN CHANGED"; cat /tmp/second.log; exit 12; }
cmp -s /tmp/before /tmp/after || { echo "FILES CHANGED"; diff /tmp/before /tmp/after; exit 13; }
cd /
for unit in $UNITS; do
    test -f /etc/systemd/system/$unit || { echo "missing $unit"; exit 14; }
    [ "$unit" = kiosk-browser.service ] && continue   # needs cage and chromium: checked on the host
    out=$(systemd-analyze verify --man=no /etc/systemd/system/$unit 2>&1) || { echo "verify $unit: $out"; exit 15; }
    [ -z "$out" ] || { echo "verify $unit: $out"; exit 15; }
done
test -L /opt/kiosk/current
echo '== pip freeze'; /opt/kiosk/current/bin/python -m pip freeze --all 2>/dev/null; echo '== end'
stat -c '%U %G %a' /etc/kiosk/kiosk.toml /var/lib/kiosk
cat > /tmp/get.py <<'EOF'
import ssl, sys, time, urllib.request
# https: checked against the fleet CA the installer made (its certificate names 127.0.0.1)
context = ssl.create_default_context(cafile="/etc/kiosk/tls/ca.pem") if sys.argv[1].startswith("https") else None
for _ in range(150):
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=2, context=context) as r:
            print("HTTP", r.status, r.read(4000).decode(errors="replace").replace("\n", " ")); sys.exit(0)
    except Exception as e:
        err = e; time.sleep(0.2)
print("no answer", err); sys.exit(1)
EOF
cd /var/lib/kiosk
setpriv --reuid=kiosk --regid=kiosk --init-groups env KIOSK_CONFIG=/etc/kiosk/kiosk.toml $PORTVAR=$PORT $EXTRA \
    /opt/kiosk/current/bin/kiosk $SERVE > /tmp/serve.log 2>&1 &
SERVER=$!
set +e
python3 /tmp/get.py $SCHEME://127.0.0.1:$PORT$PATHQ
rc=$?
kill $SERVER; wait $SERVER 2>/dev/null
[ $rc = 0 ] || cat /tmp/serve.log
ps -o user= -p $SERVER >/dev/null 2>&1
exit $rc
"""

SERVE = {"kiosk": ("serve", "KIOSK_KIOSK_PORT", "/"),
         "station": ("provisioning serve", "KIOSK_PROVISIONING_PORT", "/"),
         "central": ("central serve --workers 1", "KIOSK_CENTRAL_PORT", "/health")}


@pytest.mark.slow  # a Debian chroot per role: 11-18 s each, plus the wheelhouse (11 s; minutes without the cache)
@pytest.mark.parametrize("role", sorted(ROLES))
def test_install_script_in_fresh_bookworm_chroot(role, wheelhouse, tmp_path):
    need("unshare", "util-linux")
    tarball = bookworm_tarball()
    root = tmp_path / "root"
    root.mkdir()
    subprocess.run(["tar", "-C", str(root), "-xzf", str(tarball)], check=True)
    shutil.copytree(REPO / "deploy", root / "src/deploy")
    shutil.copytree(REPO / "library_kiosk" / "appliance", root / "src/library_kiosk/appliance",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "library_kiosk" / "__init__.py", root / "src/library_kiosk/__init__.py")
    shutil.copy(REPO / "pyproject.toml", root / "src/pyproject.toml")
    shutil.copytree(wheelhouse, root / "wh")
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    from tests.helpers import free_port

    serve, portvar, path = SERVE[role]
    env = {"ROLE": role, "UNITS": " ".join(ROLES[role].units), "PORT": str(free_port()), "PORTVAR": portvar,
           "SCHEME": "https" if role == "central" else "http",  # the installer gives the central store a fleet CA
           "SERVE": serve, "PATHQ": path,
           # the station's central database stands in as SQLite (its config names a PostgreSQL host)
           "EXTRA": "KIOSK_CENTRAL_DATABASE_URL=sqlite:////var/lib/kiosk/central.db" if role == "station" else "",
           # the minbase chroot has the packages of the central role; the others need cage, chromium...
           "SKIP": "" if role == "central" else "--skip-packages"}
    script = root / "inside.sh"
    script.write_text(INSIDE)
    command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
               f"mount -t proc proc {root}/proc && mount --rbind /dev {root}/dev && "
               f"mount -t sysfs sys {root}/sys && mount -t tmpfs tmpfs {root}/run && "
               f"exec chroot {root} /usr/bin/env -i {' '.join(f'{k}={v!r}' for k, v in env.items())} "
               "/bin/sh /inside.sh"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    try:
        assert result.returncode == 0, output
        assert "HTTP 200" in output, output
        if role == "kiosk":
            assert "Tap your card or scan your barcode" in output
        assert "root kiosk 640" in output and "kiosk kiosk 750" in output
        # the release holds exactly the lock's versions
        frozen = output.split("== pip freeze\n", 1)[1].split("== end", 1)[0].splitlines()
        installed = {canonicalize_name(n): v for n, _, v in (line.partition("==") for line in frozen) if v}
        pinned = {canonicalize_name(m.group(1)): m.group(2) for m in re.finditer(
            r"^([A-Za-z0-9._-]+)==(\S+)", lock_file(REPO, ROLES[role].extras).read_text(), flags=re.M)}
        assert {n: v for n, v in installed.items() if n in pinned and pinned[n] != v} == {}
        assert installed[canonicalize_name("library-kiosk")]
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)
