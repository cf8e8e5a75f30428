"""``kiosk doctor``: check what installers get wrong, and say how to fix each.

Each check gives PASS, WARN or FAIL with a one-line finding and, when not PASS, the fix.
Exit status 1 if anything FAILs.
"""
from __future__ import annotations

import dataclasses
import email.utils
import glob
import json
import os
import shutil
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from library_kiosk.appliance.install import MODPROBE_FILE, POLICY_FILE, ROLES, UDEV_RULES, UNIT_DIR, kiosk_origin

# vendor:product -> (name, how it is driven)
KNOWN_READERS = {
    ("054c", "06c1"): ("Sony RC-S380", "nfcpy"),
    ("054c", "02e1"): ("Sony RC-S360", "nfcpy"),
    ("04cc", "2533"): ("NXP PN533", "nfcpy"),
    ("04e6", "5591"): ("SCM SCL3711", "nfcpy"),
    ("072f", "2200"): ("ACS ACR122U", "pcsc"),
}
BLACKLISTED = ("port100", "pn533_usb", "pn533", "nfc")
REQUIRED_POLICY = {"DeveloperToolsAvailability": 2, "RemoteDebuggingAllowed": False, "URLBlocklist": ["*"],
                   "BrowserSignin": 0, "PasswordManagerEnabled": False, "DownloadRestrictions": 3,
                   "TranslateEnabled": False, "BrowserGuestModeEnabled": False, "BrowserAddPersonEnabled": False,
                   "ExtensionInstallBlocklist": ["*"], "TaskManagerEndProcessEnabled": False,
                   "SavingBrowserHistoryDisabled": True, "DefaultPopupsSetting": 2,
                   "AutofillAddressEnabled": False, "AutofillCreditCardEnabled": False}
MIN_FREE_BYTES = 500 * 1024 * 1024


@dataclasses.dataclass
class Check:
    name: str
    status: str          # PASS, WARN, FAIL
    finding: str
    fix: str = ""


def _pass(name, finding):
    return Check(name, "PASS", finding)


def _fail(name, finding, fix):
    return Check(name, "FAIL", finding, fix)


def _warn(name, finding, fix):
    return Check(name, "WARN", finding, fix)


def usb_devices(sys_root: str = "/sys") -> list[dict]:
    devices = []
    for folder in sorted(glob.glob(f"{sys_root}/bus/usb/devices/*")):
        try:
            vendor = Path(folder, "idVendor").read_text().strip()
            product = Path(folder, "idProduct").read_text().strip()
            bus = int(Path(folder, "busnum").read_text())
            number = int(Path(folder, "devnum").read_text())
        except (OSError, ValueError):
            continue
        devices.append({"vendor": vendor, "product": product, "node": f"/dev/bus/usb/{bus:03d}/{number:03d}"})
    return devices


def check_readers(config: dict, sys_root: str = "/sys", proc_modules: str = "/proc/modules",
                  root: str = "/") -> list[Check]:
    checks = []
    found = [(d, KNOWN_READERS[(d["vendor"], d["product"])]) for d in usb_devices(sys_root)
             if (d["vendor"], d["product"]) in KNOWN_READERS]
    wants_hardware = [d for d in config.get("readers", {}).get("devices", []) if d.get("type") != "simulator"]
    if not found:
        if wants_hardware:
            checks.append(_fail("readers visible", "no supported NFC reader on USB",
                                "plug the reader in (RC-S380 054c:06c1, PN533, ACR122U 072f:2200); "
                                "check `lsusb`"))
        else:
            configured = "only the simulator configured" if config.get("readers", {}).get("devices") else \
                "no reader configured"
            checks.append(_warn("readers visible", f"no NFC reader on USB and {configured}",
                                "add your readers to [readers] devices in /etc/kiosk/kiosk.toml"))
    for device, (name, driver) in found:
        node = Path(root, device["node"].lstrip("/"))
        if driver == "nfcpy":
            try:
                import grp
                group = grp.getgrgid(node.stat().st_gid).gr_name
                mode = node.stat().st_mode
            except (OSError, KeyError):
                group, mode = "?", 0
            if group == "plugdev" and mode & 0o060 == 0o060:
                checks.append(_pass("reader permitted", f"{name} at {device['node']} is rw for plugdev"))
            else:
                checks.append(_fail("reader permitted", f"{name} at {device['node']} is group {group}",
                                    f"install {UDEV_RULES} (kiosk install) then "
                                    "`udevadm control --reload && udevadm trigger`"))
        else:
            running = Path(root, "run/pcscd/pcscd.comm").exists()
            checks.append(_pass("reader permitted", f"{name} is driven by pcscd (running)") if running else
                          _fail("reader permitted", f"{name} needs pcscd, which is not running",
                                "apt-get install pcscd libccid && systemctl enable --now pcscd.socket"))
    try:
        loaded = {line.split()[0] for line in Path(proc_modules).read_text().splitlines() if line}
    except OSError:
        loaded = set()
    busy = sorted(loaded & set(BLACKLISTED))
    if busy:
        checks.append(_fail("reader drivers", f"kernel modules {', '.join(busy)} hold the NFC readers",
                            f"install {MODPROBE_FILE} (kiosk install), then `modprobe -r {' '.join(busy)}` "
                            "or reboot"))
    elif not Path(root, MODPROBE_FILE.lstrip("/")).exists():
        checks.append(_warn("reader drivers", f"{MODPROBE_FILE} is missing",
                            "run `kiosk install` again for this role"))
    else:
        checks.append(_pass("reader drivers", "the kernel's NFC drivers are blacklisted and not loaded"))
    status_url = config.get("readers", {}).get("service_url", "http://127.0.0.1:8083").rstrip("/") + "/status"
    try:
        with urllib.request.urlopen(status_url, timeout=3) as response:
            readers = json.load(response).get("readers", [])
        offline = [r["name"] for r in readers if not r.get("online")]
        checks.append(_pass("reader service", f"{len(readers)} reader(s), all online") if not offline else
                      _fail("reader service", f"offline: {', '.join(offline)}",
                            "check the cable and `journalctl -u kiosk-reader`"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        checks.append(_fail("reader service", f"{status_url} does not answer ({exc})",
                            "systemctl status kiosk-reader; journalctl -u kiosk-reader"))
    return checks


def check_central(config: dict, now: float | None = None) -> list[Check]:
    url = config.get("kiosk", {}).get("central_url", "").rstrip("/")
    checks = []
    try:
        context = None
        if url.startswith("https:"):  # as the kiosk connects: the certificate checked against [kiosk] central_ca
            import ssl

            context = ssl.create_default_context(cafile=config["kiosk"].get("central_ca") or None)
        with urllib.request.urlopen(url + "/health", timeout=5, context=context) as response:
            date = response.headers.get("Date")
        checks.append(_pass("central store", f"{url} answers"))
        if date:
            skew = abs((now or time.time()) - email.utils.parsedate_to_datetime(date).timestamp())
            checks.append(_pass("clock", f"within {skew:.0f} s of the central store") if skew < 60 else
                          _fail("clock", f"{skew:.0f} s away from the central store's clock",
                                "enable time sync: `timedatectl set-ntp true` (systemd-timesyncd)"))
    except (urllib.error.URLError, OSError) as exc:
        checks.append(_fail("central store", f"{url} is not reachable ({exc})",
                            "set [kiosk] central_url in /etc/kiosk/kiosk.toml; check the network and firewall"))
    from kiosk.devices import credential_path, load_credential

    credential = load_credential(config)
    if credential:
        checks.append(_pass("enrolled", f"device {credential.get('device')} has a token in {credential_path(config)}"))
    else:
        checks.append(_fail("enrolled", "this box has no device token",
                            "get a one-time code at the central store, then `kiosk enrol CODE`"))
    return checks


def check_trusted_time(config: dict) -> Check:
    """The time this kiosk learnt from the central store (kiosk/trusted_clock.py): without it for longer than
    ``[kiosk] trusted_time_hours``, offline renewals are refused (docs/sync.md "Trusted time")."""
    from kiosk import trusted_clock
    from library_kiosk.domain import clock

    hours = float(config["kiosk"].get("trusted_time_hours", trusted_clock.DEFAULT_HOURS))
    path = sqlite_path(config["kiosk"]["cache_url"])
    rows: dict = {}
    if path and os.path.exists(path):
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                marks = ",".join("?" * len(trusted_clock.KEYS))
                rows = dict(db.execute(f"SELECT name, value FROM sync_state WHERE name IN ({marks})",
                                       trusted_clock.KEYS).fetchall())
        except sqlite3.DatabaseError:
            rows = {}
    found = trusted_clock.summary(hours, trusted_clock.reading_from(rows, clock.now()))
    if found["trusted"]:
        return _pass("trusted time", f"learnt from the central store {found['age_hours']} h ago; this clock is "
                                     f"{-found['offset_seconds']:+.1f} s from it")
    return _fail("trusted time", f"no time learnt from the central store within {hours:g} h "
                                 f"({found['problem']}): offline renewals are refused",
                 "let the sync worker reach the central store (`kiosk sync once`; systemctl status kiosk-sync)")


def check_cache_storage(config: dict) -> Check:
    """Whether the kiosk cache can be written (kiosk/heartbeat.py ``storage``): the sync worker's last fault
    (full, read-only, missing, damaged), and a look at the file. While it fails the kiosk shows patrons an
    out-of-order screen and sends them to the desk."""
    from kiosk import heartbeat

    found = heartbeat.storage(config["kiosk"]["cache_url"])
    if found["ok"]:
        return _pass("kiosk cache storage", "the kiosk cache can be written")
    fixes = {"full": "free space on the disk (`df -h`; `journalctl --vacuum-size=100M`, old releases in "
                     "/opt/kiosk/releases); the kiosk recovers by itself",
             "read-only": "the file system went read-only (often a failing SD card): check `dmesg`, then "
                          "`mount -o remount,rw` or replace the card",
             "missing": "restart the kiosk's services (they make the cache again) and run `kiosk sync once`",
             "corrupt": "stop the services, move the cache aside (recover its outbox: `sqlite3 FILE .recover`) and "
                        "run `kiosk sync once`"}
    return _fail("kiosk cache storage", f"{found['words']} ({found['detail'][:120]}): patrons are sent to the desk",
                 fixes[found["problem"]])


def check_clock_sync() -> Check | None:
    """systemd's view of NTP synchronisation, where systemd runs."""
    if not shutil.which("timedatectl") or not Path("/run/systemd/system").is_dir():
        return None
    result = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
                            capture_output=True, text=True)
    if result.stdout.strip() == "yes":
        return _pass("clock sync", "NTP synchronised")
    return _fail("clock sync", "the clock is not NTP-synchronised",
                 "`timedatectl set-ntp true`; allow UDP 123 out, or set NTP= in /etc/systemd/timesyncd.conf")


def check_disk(path: str, minimum: int = MIN_FREE_BYTES) -> Check:
    try:
        usage = shutil.disk_usage(path)
    except OSError as exc:
        return _fail("disk space", f"{path}: {exc}", "run `kiosk install` for this role (it makes the folder)")
    free = usage.free
    if free < minimum or free < usage.total * 0.05:
        return _fail("disk space", f"only {free / 2**20:.0f} MiB free on {path}",
                     "remove old releases in /opt/kiosk/releases (not `current`), and `journalctl --vacuum-size=100M`")
    return _pass("disk space", f"{free / 2**30:.1f} GiB free on {path}")


def sqlite_path(url: str) -> str | None:
    return url[len("sqlite:///"):] if url.startswith("sqlite:///") else None


def check_database(url: str, name: str = "database") -> Check:
    path = sqlite_path(url)
    if path is None:
        return _pass(name, f"{url.split('@')[-1]} is not SQLite; checked by its server")
    if not os.path.exists(path):
        return _warn(name, f"{path} does not exist yet", "it is made on the first start of the service")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            result = [row[0] for row in db.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        result = [str(exc)]
    if result == ["ok"]:
        return _pass(name, f"{path}: integrity ok")
    return _fail(name, f"{path}: {'; '.join(result)[:200]}",
                 f"stop the services, move {path} aside and run `kiosk sync once` to rebuild the cache "
                 "(queued outbox rows in it must be recovered first: `sqlite3 FILE .recover`)")


def check_search_index(url: str) -> Check:
    """The station's patron search indexes (central/store/patron_search.py: a trigram FTS5 table on SQLite, pg_trgm
    indexes on PostgreSQL), which the central store makes when it opens; without them a search reads every record."""
    from library_kiosk.central.store import patron_search

    name = "patron search index"
    path = sqlite_path(url)
    try:
        if path is not None:
            if not os.path.exists(path):
                return _warn(name, f"{path} does not exist yet", "it is made on the first start of the service")
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                missing = [] if db.execute("SELECT 1 FROM sqlite_master WHERE name = ?",
                                           (patron_search.FTS_TABLE,)).fetchone() else [patron_search.FTS_TABLE]
            fix = "start the central store once (it makes the index); it needs SQLite 3.34 or newer with FTS5"
        else:
            from library_kiosk.database import make_database

            db = make_database(url)
            try:
                found = {row[0] for row in db.execute_sql("SELECT indexname FROM pg_indexes WHERE indexname = ANY(%s)",
                                                          (list(patron_search.POSTGRES_INDEXES),))}
            finally:
                db.close()
            missing = [index for index in patron_search.POSTGRES_INDEXES if index not in found]
            fix = ("as a PostgreSQL superuser: CREATE EXTENSION pg_trgm; in this database (Debian: "
                   "postgresql-contrib), then restart the central store, which makes the indexes")
    except Exception as exc:  # the doctor reports every failure as a finding, never a traceback
        return _fail(name, f"could not be read ({exc})", "check the central database with the check above")
    if missing:
        return _warn(name, f"missing: {', '.join(missing)}; the station's patron search reads every record", fix)
    return _pass(name, "in place")


def check_services(units, systemd_running: bool | None = None) -> list[Check]:
    if systemd_running is None:
        systemd_running = Path("/run/systemd/system").is_dir()
    if not systemd_running:
        return [_warn("services", "systemd is not running here; cannot check the services",
                      "run `kiosk doctor` on the booted box")]
    checks = []
    for unit in units:
        state = subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True).stdout.strip()
        checks.append(_pass(unit, "active") if state == "active" else
                      _fail(unit, state or "unknown", f"systemctl restart {unit}; journalctl -u {unit} -b"))
    return checks


def check_app_answers(config: dict, table: str, name: str) -> Check:
    """The web app answers its health probe within a second: its threads are not all stuck (docs/operations.md)."""
    from library_kiosk.web.serving import PROBE_TIMEOUT_SECONDS, answers, probe_url

    url = probe_url(config[table]["host"], int(config[table]["port"]), tls=bool(config[table].get("tls_cert")))
    started = time.monotonic()
    if answers(url):
        return _pass(name, f"{url} answered in {(time.monotonic() - started) * 1000:.0f} ms")
    unit = {"kiosk": "kiosk-web", "provisioning": "kiosk-provisioning"}[table]
    return _fail(name, f"{url} did not answer within {PROBE_TIMEOUT_SECONDS:.0f} s",
                 f"systemctl restart {unit}; journalctl -u {unit} -b (the watchdog restarts a hung app by itself)")


def check_screen_page(config: dict) -> Check | None:
    """Whether the kiosk hears from the page on its screen (kiosk/screen_seen.py): silent longer than ``[screen]
    page_silent_seconds`` means no kiosk page is showing, and the browser's session restarts Chromium by itself
    (library_kiosk/appliance/screen.py). None when the kiosk does not answer (``check_app_answers`` says so)."""
    from library_kiosk.appliance.screen import PAGE_SILENT_SECONDS, page_silence, seen_url
    from library_kiosk.web.serving import probe_context, probe_url

    options = config["kiosk"]
    url = seen_url(probe_url(options["host"], int(options["port"]), tls=bool(options.get("tls_cert"))))
    silence = page_silence(url, context=probe_context(url))
    if silence is None:
        return None
    limit = float(config.get("screen", {}).get("page_silent_seconds", PAGE_SILENT_SECONDS)) or PAGE_SILENT_SECONDS
    if silence <= limit:
        return _pass("screen", f"the kiosk heard from the page on its screen {silence:.0f} s ago")
    return _warn("screen", f"the kiosk has not heard from a page on its screen for {silence:.0f} s: the screen shows "
                           "no kiosk page (Chromium's own error page, a crashed browser, or no browser at all)",
                 "systemctl status kiosk-browser; journalctl -u kiosk-browser -b (the session restarts Chromium by "
                 "itself after [screen] page_silent_seconds)")


def check_station_database(config: dict) -> Check | None:
    """Whether the station reaches its patron database, as its health probe says (library_kiosk/web/health.py): a
    station whose database is away stays up and answers every page with 503 until it answers. None when the station
    does not answer at all (``check_app_answers`` says so)."""
    from library_kiosk.central.store.reachable import location
    from library_kiosk.web.serving import probe_context, probe_url

    options = config["provisioning"]
    url = probe_url(options["host"], int(options["port"]), tls=bool(options.get("tls_cert")))
    try:  # this box asking itself, as the watchdog's probe does
        with urllib.request.urlopen(url, timeout=3, context=probe_context(url)) as response:
            health = json.load(response)
    except (OSError, ValueError):
        return None
    where = location(config["central"]["database_url"])
    if health.get("database") != "unreachable":
        return _pass("station database", f"the station reaches its patron database ({where})")
    return _fail("station database", f"the station cannot reach its patron database, {where} "
                                     f"({health.get('database_problem') or 'no answer'}): every page answers 503",
                 "set [central] database_url in /etc/kiosk/kiosk.toml (every setting: /etc/kiosk/kiosk.example.toml); "
                 "check that the database server runs and this box reaches it (network, firewall). The station "
                 "opens by itself once it answers, without a restart")


def check_policy(config: dict, root: str = "/") -> Check:
    path = Path(root, POLICY_FILE.lstrip("/"))
    try:
        policy = json.loads(path.read_text())
    except FileNotFoundError:
        return _fail("browser policy", f"{POLICY_FILE} is missing", "run `kiosk install --role kiosk` again")
    except ValueError as exc:
        return _fail("browser policy", f"{POLICY_FILE} is not valid JSON ({exc}): Chromium ignores all of it",
                     "run `kiosk install --role kiosk` again")
    wrong = [key for key, value in REQUIRED_POLICY.items() if policy.get(key) != value]
    origin = kiosk_origin(config)
    if policy.get("URLAllowlist") != [origin]:
        wrong.append(f"URLAllowlist (should be only {origin})")
    stray = [p for p in glob.glob(str(path.parent / "*.json")) if Path(p).name != path.name]
    if wrong:
        return _fail("browser policy", f"not in force: {', '.join(wrong)}", "run `kiosk install --role kiosk` again")
    if stray:
        return _warn("browser policy", f"other policy files may override it: {', '.join(stray)}",
                     "remove them unless your site needs them")
    return _pass("browser policy", f"locked down, only {origin} allowed")


def installed_role(root: str = "/") -> str | None:
    for role, spec in ROLES.items():
        if all(Path(root, UNIT_DIR.lstrip("/"), unit).exists() for unit in spec.units):
            return role
    return None


def run_checks(config: dict, role: str | None = None) -> list[Check]:
    role = role or installed_role() or "kiosk"
    checks: list[Check] = []
    if ROLES[role].readers:
        checks += check_readers(config)
    if role == "kiosk":
        checks.append(check_app_answers(config, "kiosk", "kiosk app"))
        screen = check_screen_page(config)
        if screen:
            checks.append(screen)
        checks += check_central(config)
        checks.append(check_database(config["kiosk"]["cache_url"], "kiosk cache"))
        checks.append(check_trusted_time(config))
        checks.append(check_cache_storage(config))
        checks.append(check_policy(config))
    else:
        checks.append(check_database(config["central"]["database_url"], "central database"))
        if role == "central":
            checks.append(check_search_index(config["central"]["database_url"]))
    if role == "station":
        checks.append(check_app_answers(config, "provisioning", "station app"))
        database = check_station_database(config)
        if database:
            checks.append(database)
    clock = check_clock_sync()
    if clock:
        checks.append(clock)
    checks.append(check_disk(config["data_dir"]))
    checks += check_services(ROLES[role].units)
    return checks


def render(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"{check.status:4} {check.name}: {check.finding}")
        if check.fix:
            lines.append(f"     fix: {check.fix}")
    failed = sum(c.status == "FAIL" for c in checks)
    lines.append(f"{len(checks)} checks, {failed} failed, {sum(c.status == 'WARN' for c in checks)} warnings")
    return "\n".join(lines)


def run_from_args(args) -> int:
    from library_kiosk import settings

    checks = run_checks(settings.load(), args.role)
    print(render(checks))
    return 1 if any(c.status == "FAIL" for c in checks) else 0
